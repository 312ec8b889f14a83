//! CHARX archives: a zip holding the V3 card as `card.json` beside its
//! assets (images, sounds). Only `card.json` is read; the assets stay in
//! the archive, and the card's `assets` list, which names them, is kept.

use std::io::{Cursor, Read};

use super::{CardError, MAX_CARD_BYTES, ReadCard, json};

/// Reads the `card.json` of a CHARX archive.
pub fn read(bytes: &[u8]) -> Result<ReadCard, CardError> {
    let mut archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| CardError::Charx(e.to_string()))?;
    let others = archive.len().saturating_sub(1);
    let text = {
        let file = archive.by_name("card.json").map_err(|_| {
            CardError::Charx("it holds no card.json; is it really a CHARX card?".to_string())
        })?;
        let mut text = Vec::new();
        file.take(MAX_CARD_BYTES as u64 + 1)
            .read_to_end(&mut text)
            .map_err(|e| CardError::Charx(format!("card.json could not be unpacked: {e}")))?;
        if text.len() > MAX_CARD_BYTES {
            return Err(CardError::TooLarge {
                size: text.len() as u64,
            });
        }
        text
    };
    let mut read = json::read_slice(&text)?;
    if others > 0 {
        read.warnings.push(format!(
            "the archive's {others} other files (images, sounds) were not imported; the card's list of them is kept"
        ));
    }
    Ok(read)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn archive(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in files {
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            writer.start_file(*name, options).expect("start a file");
            writer.write_all(data).expect("write a file");
        }
        writer.finish().expect("finish the archive").into_inner()
    }

    #[test]
    fn the_card_json_of_an_archive_is_read_and_the_assets_mentioned() {
        let card = br#"{"spec":"chara_card_v3","data":{"name":"Zoe","description":"d"}}"#;
        let bytes = archive(&[("card.json", card), ("assets/icon/main.png", b"png")]);
        let read = super::super::read_card(&bytes).expect("a card");
        assert_eq!(read.card.name, "Zoe");
        assert!(
            read.warnings.iter().any(|w| w.contains("1 other files")),
            "{:?}",
            read.warnings
        );
    }

    #[test]
    fn an_archive_without_a_card_is_refused() {
        let bytes = archive(&[("readme.txt", b"hello")]);
        let err = read(&bytes).unwrap_err().to_string();
        assert!(err.contains("holds no card.json"), "{err}");
    }
}
