//! Fuzzes the STUN/TURN/MS-TURN decoders of turn-proto: messages, integrity, ChannelData, framings.
#![no_main]

use libfuzzer_sys::fuzz_target;
use turn_proto::channel::{
    Framing, StreamReader, decode_channel_data, next_ms_frame, next_stream_frame,
};
use turn_proto::{IntegrityKey, decode, verify_integrity};

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = decode(data) {
        // Whatever decodes must re-encode and decode to the same message.
        if let Ok(bytes) = msg.encode(None) {
            assert_eq!(decode(&bytes).ok(), Some(msg));
        }
    }
    let _ = verify_integrity(data, &IntegrityKey::short_term("fuzz"));
    let _ = decode_channel_data(data);
    let _ = next_stream_frame(data);
    let _ = next_ms_frame(data);
    // Both stream framings, fed in uneven reads, never panic and always make progress.
    for framing in [Framing::Stun, Framing::MsTurn] {
        let mut reader = StreamReader::new(framing);
        for chunk in data.chunks(7) {
            reader.push(chunk);
            while let Some(frame) = reader.next_frame() {
                if frame.is_err() {
                    break;
                }
            }
        }
    }
});
