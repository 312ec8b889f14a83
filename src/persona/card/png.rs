//! Cards inside PNG images: the card's JSON, base64-encoded, in a text
//! chunk with the keyword `ccv3` (V3) or `chara` (V2).
//!
//! Only the chunk structure is read (length, type, data, CRC), never the
//! pixels, so a card's image costs nothing to decode and a text chunk after
//! the image data is found like one before it. Writing keeps every chunk of
//! the given image but old card chunks, and adds `chara` and `ccv3` right
//! after the header.

use std::io::{Read, Write};

use base64::Engine;

use super::{CardError, CardSpec, ReadCard, json};

/// The eight bytes every PNG starts with.
pub const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Text chunk keywords holding a card, in order of preference.
const KEYWORDS: &[&str] = &["ccv3", "chara"];

/// One chunk of a PNG.
struct Chunk<'a> {
    /// Its four-letter type, e.g. `IHDR` or `tEXt`.
    kind: [u8; 4],
    /// Its data.
    data: &'a [u8],
    /// Whether its CRC matched.
    intact: bool,
}

/// Splits a PNG into chunks, up to `IEND`. A file cut short yields the
/// chunks before the cut and says where it was cut.
fn chunks(bytes: &[u8]) -> Result<(Vec<Chunk<'_>>, Option<String>), CardError> {
    let mut rest = bytes.strip_prefix(SIGNATURE).ok_or_else(|| {
        CardError::Png("the file does not start with a PNG signature".to_string())
    })?;
    let mut found = Vec::new();
    while !rest.is_empty() {
        let Some((length, kind, tail)) = header(rest) else {
            return Ok((
                found,
                Some("the PNG ends in the middle of a chunk header".to_string()),
            ));
        };
        if tail.len() < length + 4 {
            let name = String::from_utf8_lossy(&kind).into_owned();
            return Ok((
                found,
                Some(format!("the PNG is cut short inside its {name} chunk")),
            ));
        }
        let (data, tail) = tail.split_at(length);
        let (crc, tail) = tail.split_at(4);
        let intact = crc == checksum(&kind, data).to_be_bytes();
        found.push(Chunk { kind, data, intact });
        rest = tail;
        if &kind == b"IEND" {
            break;
        }
    }
    Ok((found, None))
}

/// A chunk's length and type, and the bytes after them.
fn header(bytes: &[u8]) -> Option<(usize, [u8; 4], &[u8])> {
    let length = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    let kind: [u8; 4] = bytes.get(4..8)?.try_into().ok()?;
    Some((length, kind, bytes.get(8..)?))
}

/// The CRC-32 of a chunk's type and data.
fn checksum(kind: &[u8; 4], data: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(kind);
    hasher.update(data);
    hasher.finalize()
}

/// A text chunk's keyword and text: `tEXt` as is, `zTXt` and compressed
/// `iTXt` inflated. `None` for other chunks.
fn text_of(chunk: &Chunk<'_>) -> Option<Result<(String, Vec<u8>), String>> {
    let split = |data: &[u8]| {
        let at = data.iter().position(|b| *b == 0)?;
        Some((
            String::from_utf8_lossy(&data[..at]).into_owned(),
            data[at + 1..].to_vec(),
        ))
    };
    let broken = || Err("a broken text chunk".to_string());
    match &chunk.kind {
        b"tEXt" => Some(split(chunk.data).map_or_else(broken, Ok)),
        b"zTXt" => Some(match split(chunk.data) {
            Some((keyword, rest)) if rest.first() == Some(&0) => {
                inflate(&rest[1..]).map(|t| (keyword, t))
            }
            _ => broken(),
        }),
        b"iTXt" => Some(
            international(chunk.data)
                .ok_or_else(|| "a broken iTXt chunk".to_string())
                .and_then(|r| r),
        ),
        _ => None,
    }
}

/// An `iTXt` chunk: keyword, compression flag and method, language tag,
/// translated keyword, then the text.
fn international(data: &[u8]) -> Option<Result<(String, Vec<u8>), String>> {
    let at = data.iter().position(|b| *b == 0)?;
    let keyword = String::from_utf8_lossy(&data[..at]).into_owned();
    let compressed = *data.get(at + 1)? == 1;
    let rest = data.get(at + 3..)?;
    let language_end = rest.iter().position(|b| *b == 0)?;
    let rest = &rest[language_end + 1..];
    let translated_end = rest.iter().position(|b| *b == 0)?;
    let text = &rest[translated_end + 1..];
    Some(if compressed {
        inflate(text).map(|t| (keyword, t))
    } else {
        Ok((keyword, text.to_vec()))
    })
}

/// Inflates a zlib stream, refusing one that grows past the card limit.
fn inflate(data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(data)
        .take(super::MAX_CARD_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("a compressed text chunk could not be inflated: {e}"))?;
    if out.len() > super::MAX_CARD_BYTES {
        return Err("a compressed text chunk inflates past the card size limit".to_string());
    }
    Ok(out)
}

/// Reads the card in a PNG: the `ccv3` chunk if it reads, else `chara`.
pub fn read(bytes: &[u8]) -> Result<ReadCard, CardError> {
    let (chunks, cut) = chunks(bytes)?;
    let mut warnings: Vec<String> = cut.into_iter().collect();
    let mut found: Vec<(String, Vec<u8>, bool)> = Vec::new();
    for chunk in &chunks {
        match text_of(chunk) {
            Some(Ok((keyword, text))) => found.push((keyword, text, chunk.intact)),
            Some(Err(problem)) => warnings.push(format!("{problem} was ignored")),
            None => {}
        }
    }
    let mut failures = Vec::new();
    for wanted in KEYWORDS {
        let Some((keyword, text, intact)) =
            found.iter().find(|(k, ..)| k.eq_ignore_ascii_case(wanted))
        else {
            continue;
        };
        match decode(text) {
            Ok(mut read) => {
                if !intact {
                    warnings.push(format!(
                        "the {keyword} chunk's checksum does not match; read it anyway"
                    ));
                }
                if *wanted == "ccv3" && read.spec != CardSpec::V3 {
                    warnings.push(format!(
                        "the {keyword} chunk holds a {}; read it as such",
                        read.spec.label()
                    ));
                }
                warnings.append(&mut failures);
                warnings.append(&mut read.warnings);
                read.warnings = warnings;
                return Ok(read);
            }
            Err(e) => failures.push(format!(
                "the {keyword} chunk could not be read ({e}); tried the next one"
            )),
        }
    }
    match failures.pop() {
        Some(last) => Err(CardError::Png(last.replace("; tried the next one", ""))),
        None => Err(CardError::Png(
            "the PNG holds no character card (no \"chara\" or \"ccv3\" text chunk); is it a plain image rather than a card?"
                .to_string(),
        )),
    }
}

/// Reads a chunk's text as base64 of the card's JSON (plain JSON is
/// accepted too).
fn decode(text: &[u8]) -> Result<ReadCard, CardError> {
    let trimmed: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if trimmed.first() == Some(&b'{') {
        return json::read_slice(&trimmed);
    }
    let engines = [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    let json = engines
        .iter()
        .find_map(|engine| engine.decode(&trimmed).ok())
        .ok_or_else(|| CardError::Png("its text is not base64".to_string()))?;
    json::read_slice(&json)
}

/// A PNG holding the card twice, as `chara` (V2 JSON) and `ccv3` (V3 JSON),
/// on `image` or, when there is none, on [`default_avatar`].
pub fn write(image: Option<&[u8]>, v2: &str, v3: &str) -> Result<Vec<u8>, CardError> {
    let avatar;
    let image = match image {
        Some(image) => image,
        None => {
            avatar = default_avatar();
            &avatar
        }
    };
    let (chunks, cut) = chunks(image)?;
    if let Some(problem) = cut {
        return Err(CardError::Png(format!(
            "the image is not a complete PNG: {problem}"
        )));
    }
    if chunks.first().map(|c| &c.kind) != Some(b"IHDR")
        || chunks.last().map(|c| &c.kind) != Some(b"IEND")
    {
        return Err(CardError::Png(
            "the image is not a complete PNG (no IHDR first or no IEND last)".to_string(),
        ));
    }
    let engine = base64::engine::general_purpose::STANDARD;
    let mut out = SIGNATURE.to_vec();
    for (index, chunk) in chunks.iter().enumerate() {
        let is_card = text_of(chunk)
            .and_then(Result::ok)
            .is_some_and(|(keyword, _)| KEYWORDS.iter().any(|k| keyword.eq_ignore_ascii_case(k)));
        if !is_card {
            push_chunk(&mut out, &chunk.kind, chunk.data);
        }
        if index == 0 {
            push_text(&mut out, "chara", &engine.encode(v2));
            push_text(&mut out, "ccv3", &engine.encode(v3));
        }
    }
    Ok(out)
}

/// Appends a `tEXt` chunk.
fn push_text(out: &mut Vec<u8>, keyword: &str, text: &str) {
    let mut data = keyword.as_bytes().to_vec();
    data.push(0);
    data.extend_from_slice(text.as_bytes());
    push_chunk(out, b"tEXt", &data);
}

/// Appends a chunk: length, type, data, CRC.
fn push_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    let length =
        u32::try_from(data.len()).expect("chunks are built from inputs under the card limit");
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&checksum(kind, data).to_be_bytes());
}

/// A 64×64 avatar for a card exported without an image: a soft diagonal
/// gradient, 8-bit RGB.
pub fn default_avatar() -> Vec<u8> {
    const SIDE: u32 = 64;
    let mut pixels = Vec::with_capacity((SIDE * (SIDE * 3 + 1)) as usize);
    for y in 0..SIDE {
        pixels.push(0); // filter type: none
        for x in 0..SIDE {
            let t = ((x + y) * 255 / (2 * SIDE - 2)) as u8;
            pixels.extend_from_slice(&[90 + t / 3, 70 + t / 4, 160 - t / 4]);
        }
    }
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder
        .write_all(&pixels)
        .expect("writing to memory cannot fail");
    let compressed = encoder.finish().expect("writing to memory cannot fail");
    let mut header = Vec::new();
    header.extend_from_slice(&SIDE.to_be_bytes());
    header.extend_from_slice(&SIDE.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]); // 8 bits, RGB, deflate, adaptive, no interlace
    let mut out = SIGNATURE.to_vec();
    push_chunk(&mut out, b"IHDR", &header);
    push_chunk(&mut out, b"IDAT", &compressed);
    push_chunk(&mut out, b"IEND", &[]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2: &str = r#"{"spec":"chara_card_v2","data":{"name":"Ada","description":"d"}}"#;

    /// The default avatar with one extra chunk inserted before IEND.
    fn with_chunk_before_end(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let png = default_avatar();
        let end = png.len() - 12;
        let mut out = png[..end].to_vec();
        push_chunk(&mut out, kind, data);
        out.extend_from_slice(&png[end..]);
        out
    }

    #[test]
    fn a_card_in_a_chunk_after_the_image_data_is_found() {
        let text = base64::engine::general_purpose::STANDARD.encode(V2);
        let png = with_chunk_before_end(b"tEXt", format!("Chara\0{text}").as_bytes());
        let read = read(&png).expect("a card");
        assert_eq!(read.card.name, "Ada");
        assert_eq!(read.spec, CardSpec::V2);
    }

    #[test]
    fn a_written_card_keeps_non_ascii_text_intact() {
        let card =
            r#"{"spec":"chara_card_v3","data":{"name":"Élise 花子","description":"Ça va ? 🙂"}}"#;
        let read = read(&write(None, card, card).expect("a png")).expect("a card");
        assert_eq!(read.card.name, "Élise 花子");
        assert_eq!(read.card.description, "Ça va ? 🙂");
    }

    #[test]
    fn a_plain_image_is_refused_with_a_clear_message() {
        let err = read(&default_avatar()).unwrap_err().to_string();
        assert!(err.contains("holds no character card"), "{err}");
    }

    #[test]
    fn writing_replaces_old_card_chunks_and_keeps_the_image() {
        let old = base64::engine::general_purpose::STANDARD.encode(V2.replace("Ada", "Old"));
        let png = with_chunk_before_end(b"tEXt", format!("chara\0{old}").as_bytes());
        let v3 = V2
            .replace("chara_card_v2", "chara_card_v3")
            .replace("Ada", "Ada3");
        let out = write(Some(&png), V2, &v3).expect("a png");
        let read = read(&out).expect("a card");
        assert_eq!(read.card.name, "Ada3", "ccv3 is preferred");
        let (chunks, _) = chunks(&out).expect("chunks");
        let texts = chunks.iter().filter(|c| &c.kind == b"tEXt").count();
        assert_eq!(texts, 2, "the old chara chunk is gone");
        assert!(chunks.iter().any(|c| &c.kind == b"IDAT"));
    }

    #[test]
    fn a_ccv3_chunk_that_does_not_decode_falls_back_to_chara() {
        let text = base64::engine::general_purpose::STANDARD.encode(V2);
        let png = with_chunk_before_end(b"tEXt", b"ccv3\0!!!not base64!!!");
        let end = png.len() - 12;
        let mut both = png[..end].to_vec();
        push_text(&mut both, "chara", &text);
        both.extend_from_slice(&png[end..]);
        let read = read(&both).expect("a card");
        assert_eq!(read.card.name, "Ada");
        assert!(
            read.warnings
                .iter()
                .any(|w| w.contains("the ccv3 chunk could not be read")),
            "{:?}",
            read.warnings
        );
    }
}
