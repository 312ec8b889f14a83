//! An incremental server-sent-events decoder: bytes in, `(event, data)`
//! pairs out, whatever way the network splits the bytes.

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, empty if none was sent.
    pub event: String,
    /// The `data:` lines, joined with newlines.
    pub data: String,
}

/// Decodes a byte stream into events.
#[derive(Debug, Default)]
pub struct SseDecoder {
    /// Bytes not yet ending in a newline.
    pending: Vec<u8>,
    /// The event being assembled.
    event: String,
    /// Its data lines.
    data: Vec<String>,
}

impl SseDecoder {
    /// Feeds bytes; returns the events they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        self.pending.extend_from_slice(bytes);
        let mut events = Vec::new();
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if let Some(event) = self.dispatch() {
                    events.push(event);
                }
                continue;
            }
            if line.starts_with(':') {
                continue; // a comment, used as keep-alive
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => self.event = value.to_string(),
                "data" => self.data.push(value.to_string()),
                _ => {}
            }
        }
        events
    }

    /// The event in progress when the stream ends without a blank line.
    pub fn finish(&mut self) -> Option<SseEvent> {
        self.dispatch()
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        if self.data.is_empty() && self.event.is_empty() {
            return None;
        }
        let event = SseEvent {
            event: std::mem::take(&mut self.event),
            data: std::mem::take(&mut self.data).join("\n"),
        };
        Some(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_anywhere_decode_the_same() {
        let stream = b"event: message_start\ndata: {\"a\":1}\n\n: keep-alive\n\nevent: ping\r\ndata: x\r\ndata: y\r\n\r\n";
        for split in 1..stream.len() {
            let mut decoder = SseDecoder::default();
            let mut events = decoder.feed(&stream[..split]);
            events.extend(decoder.feed(&stream[split..]));
            assert_eq!(
                events,
                [
                    SseEvent {
                        event: "message_start".into(),
                        data: "{\"a\":1}".into()
                    },
                    SseEvent {
                        event: "ping".into(),
                        data: "x\ny".into()
                    },
                ],
                "split at {split}"
            );
        }
    }

    #[test]
    fn an_unterminated_last_event_is_returned_on_finish() {
        let mut decoder = SseDecoder::default();
        assert!(decoder.feed(b"data: partial").is_empty());
        assert!(decoder.feed(b"\n").is_empty());
        assert_eq!(
            decoder.finish().map(|e| e.data),
            Some("partial".to_string())
        );
    }
}
