//! ChannelData messages (RFC 8656 §12.4), the first-byte demultiplexing of a TURN port
//! (RFC 8656 §12, RFC 7983) and the two stream framings: STUN/ChannelData over TCP
//! (RFC 8656 §12.5) and the 4-byte MS-TURN TCP header ([MS-TURN] 2.1).

/// RFC 8656 §12: lowest channel number a client may bind.
pub const CHANNEL_MIN: u16 = 0x4000;
/// RFC 8656 §12: highest channel number a client may bind (0x5000..=0x7FFF are reserved).
pub const CHANNEL_MAX: u16 = 0x4FFF;
/// RFC 5766 §11: highest channel number of the older range, still used by clients (coturn's
/// own `turnutils_uclient` picks numbers up to 0x7FFF).
pub const CHANNEL_MAX_RFC5766: u16 = 0x7FFF;
/// Bytes of the ChannelData header.
pub const CHANNEL_HEADER_LEN: usize = 4;

/// A borrowed ChannelData message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelData<'a> {
    /// Channel number (0x4000..=0x4FFF).
    pub channel: u16,
    /// Application data, without padding.
    pub data: &'a [u8],
}

/// Why bytes are not a ChannelData message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChannelDataError {
    /// Fewer than four bytes.
    #[error("shorter than the 4-byte ChannelData header")]
    TooShort,
    /// The number is outside 0x4000..=0x7FFF (RFC 5766 §11; RFC 8656 §12 binds 0x4000..=0x4FFF).
    #[error("channel number {0:#06x} outside 0x4000..=0x7FFF")]
    Channel(u16),
    /// RFC 8656 §12.4: length field does not fit the datagram (padding of up to 3 bytes allowed).
    #[error("length field {declared} does not fit {actual} payload bytes")]
    Length {
        /// Length field.
        declared: usize,
        /// Bytes after the header.
        actual: usize,
    },
}

/// Decodes a ChannelData message; trailing padding (up to 3 bytes) is accepted (RFC 8656 §12.5).
/// Any number of the 0b01 prefix space is read; whether it is bound is the server's business.
pub fn decode_channel_data(bytes: &[u8]) -> Result<ChannelData<'_>, ChannelDataError> {
    let (head, rest) = match bytes {
        [a, b, c, d, rest @ ..] => ([*a, *b, *c, *d], rest),
        _ => return Err(ChannelDataError::TooShort),
    };
    let channel = u16::from_be_bytes([head[0], head[1]]);
    if !(CHANNEL_MIN..=CHANNEL_MAX_RFC5766).contains(&channel) {
        return Err(ChannelDataError::Channel(channel));
    }
    let declared = usize::from(u16::from_be_bytes([head[2], head[3]]));
    let data = rest
        .get(..declared)
        .filter(|_| rest.len() - declared < 4)
        .ok_or(ChannelDataError::Length {
            declared,
            actual: rest.len(),
        })?;
    Ok(ChannelData { channel, data })
}

/// Appends a ChannelData message; `pad` rounds it up to 4 bytes (required over TCP, RFC 8656 §12.5).
///
/// Returns `false` (and writes nothing) if `data` is longer than 65535 bytes.
pub fn encode_channel_data(channel: u16, data: &[u8], pad: bool, out: &mut Vec<u8>) -> bool {
    let Ok(len) = u16::try_from(data.len()) else {
        return false;
    };
    out.reserve(CHANNEL_HEADER_LEN + data.len() + 3);
    out.extend_from_slice(&channel.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(data);
    if pad {
        out.resize(out.len() + (4 - data.len() % 4) % 4, 0);
    }
    true
}

/// What the first byte of a packet on a TURN port says it is (RFC 8656 §12, RFC 7983 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketKind {
    /// 0b00xxxxxx: a STUN message.
    Stun,
    /// 0b01xxxxxx: ChannelData.
    ChannelData,
    /// Anything else (not for a TURN server).
    Other,
}

/// Classifies a packet by its first byte.
pub fn packet_kind(bytes: &[u8]) -> PacketKind {
    match bytes.first().map(|b| b >> 6) {
        Some(0) => PacketKind::Stun,
        Some(1) => PacketKind::ChannelData,
        _ => PacketKind::Other,
    }
}

/// The next frame in a TURN-over-TCP byte stream (RFC 8656 §12.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFrame {
    /// More bytes are needed; at least this many in total.
    Incomplete {
        /// Total bytes needed before the frame can be judged.
        need: usize,
    },
    /// A STUN message of this many bytes starts the buffer.
    Stun(usize),
    /// A ChannelData message of this many bytes (padding included) starts the buffer.
    ChannelData(usize),
    /// The stream is not STUN/TURN; close the connection.
    Invalid,
}

/// Splits the next frame off a TURN-over-TCP stream without copying.
pub fn next_stream_frame(buf: &[u8]) -> StreamFrame {
    let Some(first) = buf.first() else {
        return StreamFrame::Incomplete { need: 4 };
    };
    let Some(len) = buf
        .get(2..4)
        .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
    else {
        return StreamFrame::Incomplete { need: 4 };
    };
    let (frame, total) = match first >> 6 {
        0 => (StreamFrame::Stun(20 + len), 20 + len),
        1 => {
            // RFC 8656 §12.5: over TCP ChannelData is padded to a multiple of 4.
            let total = 4 + len + (4 - len % 4) % 4;
            (StreamFrame::ChannelData(total), total)
        }
        _ => return StreamFrame::Invalid,
    };
    if buf.len() < total {
        StreamFrame::Incomplete { need: total }
    } else {
        frame
    }
}

/// [MS-TURN] 2.1: payload type of the 4-byte TCP framing header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsFrameType {
    /// 0x02: a TURN control message.
    Control,
    /// 0x03: end-to-end (relayed) data.
    EndToEndData,
}

/// The next frame in an MS-TURN TCP stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsStreamFrame {
    /// More bytes are needed; at least this many in total.
    Incomplete {
        /// Total bytes needed.
        need: usize,
    },
    /// A frame: its type and the total length (header included); the payload is `[4..total]`.
    Frame {
        /// Payload type.
        kind: MsFrameType,
        /// Header plus payload bytes.
        total: usize,
    },
    /// Any other type byte: the stream is broken and must be closed ([MS-TURN] 3.1.10).
    Invalid,
}

/// Splits the next frame off an MS-TURN TCP stream ([MS-TURN] 2.1: type, 0x00, length).
pub fn next_ms_frame(buf: &[u8]) -> MsStreamFrame {
    let Some(head) = buf.get(..4) else {
        // Reject a bad type byte as early as possible.
        return match buf.first() {
            Some(0x02 | 0x03) | None => MsStreamFrame::Incomplete { need: 4 },
            Some(_) => MsStreamFrame::Invalid,
        };
    };
    let kind = match head[0] {
        0x02 => MsFrameType::Control,
        0x03 => MsFrameType::EndToEndData,
        _ => return MsStreamFrame::Invalid,
    };
    if head[1] != 0 {
        return MsStreamFrame::Invalid;
    }
    let total = 4 + usize::from(u16::from_be_bytes([head[2], head[3]]));
    if buf.len() < total {
        MsStreamFrame::Incomplete { need: total }
    } else {
        MsStreamFrame::Frame { kind, total }
    }
}

/// Appends an MS-TURN TCP frame; returns `false` (nothing written) if `payload` exceeds 65535 bytes.
pub fn encode_ms_frame(kind: MsFrameType, payload: &[u8], out: &mut Vec<u8>) -> bool {
    let Ok(len) = u16::try_from(payload.len()) else {
        return false;
    };
    let t = match kind {
        MsFrameType::Control => 0x02,
        MsFrameType::EndToEndData => 0x03,
    };
    out.extend_from_slice(&[t, 0]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_data_round_trips_with_and_without_padding() {
        for pad in [false, true] {
            let mut out = Vec::new();
            assert!(encode_channel_data(0x4001, b"hello", pad, &mut out));
            assert_eq!(out.len(), if pad { 12 } else { 9 });
            let cd = decode_channel_data(&out).unwrap();
            assert_eq!(cd.channel, 0x4001);
            assert_eq!(cd.data, b"hello");
        }
    }

    #[test]
    fn channel_data_rejects_bad_numbers_and_lengths() {
        assert_eq!(
            decode_channel_data(&[0x80, 0, 0, 0]),
            Err(ChannelDataError::Channel(0x8000))
        );
        assert_eq!(
            decode_channel_data(&[0x3f, 0xff, 0, 0]),
            Err(ChannelDataError::Channel(0x3fff))
        );
        assert_eq!(
            decode_channel_data(&[0x40, 0, 0, 8, 1]),
            Err(ChannelDataError::Length {
                declared: 8,
                actual: 1
            })
        );
        // More than 3 bytes of trailing junk is not padding.
        assert!(decode_channel_data(&[0x40, 0, 0, 0, 1, 2, 3, 4]).is_err());
        assert_eq!(
            decode_channel_data(&[0x40]),
            Err(ChannelDataError::TooShort)
        );
    }

    #[test]
    fn stream_framing_splits_stun_and_padded_channel_data() {
        let mut stream = Vec::new();
        encode_channel_data(0x4000, b"abc", true, &mut stream);
        let stun = [
            0u8, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
        ];
        stream.extend_from_slice(&stun);
        assert_eq!(next_stream_frame(&stream), StreamFrame::ChannelData(8));
        assert_eq!(next_stream_frame(&stream[8..]), StreamFrame::Stun(20));
        assert_eq!(
            next_stream_frame(&stream[8..20]),
            StreamFrame::Incomplete { need: 20 }
        );
        assert_eq!(next_stream_frame(&[0x80, 0, 0, 0]), StreamFrame::Invalid);
    }

    #[test]
    fn ms_framing_reads_type_and_length() {
        let mut out = Vec::new();
        assert!(encode_ms_frame(
            MsFrameType::EndToEndData,
            b"media",
            &mut out
        ));
        assert_eq!(&out[..4], &[0x03, 0x00, 0x00, 0x05]);
        assert_eq!(
            next_ms_frame(&out),
            MsStreamFrame::Frame {
                kind: MsFrameType::EndToEndData,
                total: 9
            }
        );
        assert_eq!(
            next_ms_frame(&out[..6]),
            MsStreamFrame::Incomplete { need: 9 }
        );
        assert_eq!(next_ms_frame(&[0x16]), MsStreamFrame::Invalid);
        assert_eq!(next_ms_frame(&[0x02, 0x01, 0, 0]), MsStreamFrame::Invalid);
    }
}

/// Which framing a TCP/TLS connection to the relay uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// RFC 8656 §12.5: STUN messages and padded ChannelData back to back.
    Stun,
    /// [MS-TURN] 2.1: 4-byte headers of type 0x02 (control) or 0x03 (data).
    MsTurn,
}

/// One frame read off a relay connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A STUN/MS-TURN message or a ChannelData message: give it to `Server::handle_client`.
    Message(&'a [u8]),
    /// [MS-TURN] end-to-end data: give it to `Server::handle_client_ms_data`.
    MsData(&'a [u8]),
}

/// The byte stream is not of the connection's framing: close the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the byte stream does not follow its framing")]
pub struct FramingError;

/// Reassembles frames from the reads of one relay connection. It holds at most one partial
/// frame plus one read; frames are at most 65535 + 20 bytes, so memory stays bounded.
#[derive(Debug)]
pub struct StreamReader {
    framing: Framing,
    buf: Vec<u8>,
    start: usize,
}

impl StreamReader {
    /// A reader for a connection using `framing`.
    pub fn new(framing: Framing) -> Self {
        Self {
            framing,
            buf: Vec::new(),
            start: 0,
        }
    }

    /// Appends bytes read from the connection.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, `None` when more bytes are needed.
    pub fn next_frame(&mut self) -> Option<Result<Frame<'_>, FramingError>> {
        let pending = self.buf.get(self.start..).unwrap_or_default();
        let (skip, len, data) = match self.framing {
            Framing::Stun => match next_stream_frame(pending) {
                StreamFrame::Incomplete { .. } => return None,
                StreamFrame::Invalid => return Some(Err(FramingError)),
                StreamFrame::Stun(n) | StreamFrame::ChannelData(n) => (0, n, false),
            },
            Framing::MsTurn => match next_ms_frame(pending) {
                MsStreamFrame::Incomplete { .. } => return None,
                MsStreamFrame::Invalid => return Some(Err(FramingError)),
                MsStreamFrame::Frame { kind, total } => {
                    (4, total - 4, kind == MsFrameType::EndToEndData)
                }
            },
        };
        let from = self.start + skip;
        let frame = self.buf.get(from..from + len)?;
        self.start = from + len;
        Some(Ok(if data {
            Frame::MsData(frame)
        } else {
            Frame::Message(frame)
        }))
    }
}

#[cfg(test)]
mod reader_tests {
    use super::*;

    #[test]
    fn reassembles_frames_split_across_reads() {
        let mut stream = Vec::new();
        encode_channel_data(0x4000, b"abcde", true, &mut stream);
        let stun = [
            0u8, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
        ];
        stream.extend_from_slice(&stun);
        let mut r = StreamReader::new(Framing::Stun);
        let mut frames = Vec::new();
        for byte in &stream {
            r.push(std::slice::from_ref(byte));
            while let Some(f) = r.next_frame() {
                frames.push(match f.unwrap() {
                    Frame::Message(m) => m.to_vec(),
                    Frame::MsData(_) => panic!("no MS data in STUN framing"),
                });
            }
        }
        assert_eq!(frames, vec![stream[..12].to_vec(), stun.to_vec()]);
    }

    #[test]
    fn ms_turn_frames_are_unwrapped_by_type() {
        let mut stream = Vec::new();
        encode_ms_frame(MsFrameType::Control, b"ctl", &mut stream);
        encode_ms_frame(MsFrameType::EndToEndData, b"media", &mut stream);
        let mut r = StreamReader::new(Framing::MsTurn);
        r.push(&stream);
        assert_eq!(r.next_frame(), Some(Ok(Frame::Message(&b"ctl"[..]))));
        assert_eq!(r.next_frame(), Some(Ok(Frame::MsData(&b"media"[..]))));
        assert_eq!(r.next_frame(), None);
        r.push(&[0x16, 0x03]);
        assert_eq!(r.next_frame(), Some(Err(FramingError)));
    }
}
