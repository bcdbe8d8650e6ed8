//! Fuzzes the stream framer: the frames cut from a stream do not depend on how the stream
//! was split into reads, and memory stays bounded by the limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_msg::{Frame, StreamFramer};

const LIMIT: usize = 4096;

fn run(chunks: &[&[u8]]) -> (Vec<Frame>, bool) {
    let mut f = StreamFramer::new(LIMIT);
    let mut frames = Vec::new();
    for c in chunks {
        f.push(c);
        loop {
            match f.next_frame() {
                Ok(Some(fr)) => frames.push(fr),
                Ok(None) => break,
                Err(_) => return (frames, true),
            }
        }
        assert!(f.buffered() <= LIMIT + c.len(), "framer holds more than limit + one read");
    }
    if let (Some(fr), _) = f.finish() {
        frames.push(fr);
    }
    (frames, false)
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let cut = usize::from(data[0]) % data.len();
    let body = &data[1..];
    let cut = cut.min(body.len());
    let whole = run(&[body]);
    let split = run(&[&body[..cut], &body[cut..]]);
    let bytewise: Vec<&[u8]> = body.chunks(1).collect();
    let one_by_one = run(&bytewise);
    // A failure may be detected at a different frame count only if it is the same failure;
    // frames before it must agree.
    assert_eq!(whole.1, split.1, "failure depends on the split");
    assert_eq!(whole.1, one_by_one.1, "failure depends on the split");
    assert_eq!(whole.0, split.0);
    assert_eq!(whole.0, one_by_one.0);
});
