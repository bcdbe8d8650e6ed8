//! A small seeded multiply-rotate hasher for the relay's hot-path maps (5-tuples, relay ids,
//! peer addresses, channel numbers). Keys only enter these maps after authentication and under
//! quotas, and the seed comes from the server's secret, so flooding them with collisions is
//! neither cheap nor blind; SipHash's cost per packet is not worth paying here.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

/// Multiplier of the FxHash family (a 64-bit odd constant with good bit dispersion).
const K: u64 = 0x517c_c1b7_2722_0a95;

/// The hasher: one rotate, xor and multiply per 64-bit word.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FastHasher(u64);

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u16(&mut self, i: u16) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Builds [`FastHasher`]s starting from a per-server seed.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Seeded(pub(crate) u64);

impl BuildHasher for Seeded {
    type Hasher = FastHasher;

    fn build_hasher(&self) -> FastHasher {
        FastHasher(self.0)
    }
}

/// A `HashMap` with the seeded fast hasher.
pub(crate) type FastMap<K, V> = HashMap<K, V, Seeded>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    #[test]
    fn distinct_addresses_spread_over_buckets() {
        let s = Seeded(7);
        let mut low_bits = std::collections::HashSet::new();
        for port in 0..1024u16 {
            let a = SocketAddr::new("192.0.2.1".parse().unwrap(), port);
            low_bits.insert(s.hash_one(a) & 0x3ff);
        }
        // 1024 keys into 1024 buckets: a decent hash fills well over half of them.
        assert!(low_bits.len() > 600, "{}", low_bits.len());
        assert_ne!(Seeded(1).hash_one(1u64), Seeded(2).hash_one(1u64));
    }
}
