//! Holds the benchmark messages (see benches/parse.rs).
