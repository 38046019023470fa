//! Header blocks written straight into one buffer (the layout [`Headers`] keeps: the bytes of
//! every name and value, and their spans), so an event costs one span list and a stretch of a
//! shared buffer (the engine's arena, see [`Block::in_arena`]) instead of two `String`s per
//! header. A block a channel repeats on many events (its caller profile) is kept per channel
//! in a [`BlockCache`] and copied in whole until what it shows changes; the variables are kept
//! encoded by [`Vars`] itself.

use std::ops::Range;

use bytes::BytesMut;

use parkway_esl::headers::Headers;

use super::vars::Vars;

/// Where a block's headers lie in its buffer: name and value byte ranges.
pub(crate) type Spans = Vec<(Range<u32>, Range<u32>)>;

/// Header pairs in one buffer.
#[derive(Debug, Clone, Default)]
pub(crate) struct Block {
    buf: BytesMut,
    spans: Spans,
}

/// Bytes of the arena buffers events are cut from.
const ARENA: usize = 64 * 1024;
/// A new arena buffer is started when less than this is left.
const ARENA_LOW: usize = 8 * 1024;

impl Block {
    /// A block written at the end of `arena` (an empty buffer with spare capacity): events
    /// are cut from one large allocation, which lives until the last of them is dropped,
    /// instead of one allocation each. Its spans are written into `spans` (emptied first), a
    /// list the engine reuses, so it never grows once it holds the largest event. Give both
    /// back with [`Block::finish_event`].
    pub(crate) fn in_arena(mut arena: BytesMut, mut spans: Spans) -> Block {
        if arena.capacity() < ARENA_LOW {
            arena = BytesMut::with_capacity(ARENA);
        }
        spans.clear();
        Block { buf: arena, spans }
    }

    /// The headers written (their span list allocated at its exact length), what is left of
    /// the arena, and the span list to reuse.
    pub(crate) fn finish_event(mut self) -> (Headers, BytesMut, Spans) {
        let bytes = self.buf.split().freeze();
        let headers = Headers::from_span_slice(bytes, &self.spans);
        (headers, self.buf, self.spans)
    }

    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.spans.clear();
    }

    fn end(&self) -> u32 {
        // Blocks are event headers: far below 4 GiB.
        self.buf.len() as u32
    }

    /// `name: value`.
    pub(crate) fn push(&mut self, name: &str, value: &str) {
        self.push_prefixed("", name, value);
    }

    /// `<prefix><name>: value`.
    pub(crate) fn push_prefixed(&mut self, prefix: &str, name: &str, value: &str) {
        self.buf.reserve(prefix.len() + name.len() + value.len());
        let n = self.end();
        // Most headers have no prefix: no copy call for it.
        if !prefix.is_empty() {
            self.buf.extend_from_slice(prefix.as_bytes());
        }
        self.buf.extend_from_slice(name.as_bytes());
        let v = self.end();
        self.buf.extend_from_slice(value.as_bytes());
        self.spans.push((n..v, v..self.end()));
    }

    /// Fixed headers, in order.
    pub(crate) fn of_pairs(pairs: &[(&str, &str)]) -> Block {
        let mut b = Block::default();
        for (n, v) in pairs {
            b.push(n, v);
        }
        b
    }

    /// `<prefix><name>: <n in decimal>`.
    pub(crate) fn push_u64(&mut self, prefix: &str, name: &str, n: u64) {
        let mut digits = [0u8; 20];
        let digits = decimal(n, &mut digits);
        self.buf.reserve(prefix.len() + name.len() + digits.len());
        let start = self.end();
        if !prefix.is_empty() {
            self.buf.extend_from_slice(prefix.as_bytes());
        }
        self.buf.extend_from_slice(name.as_bytes());
        let v = self.end();
        self.buf.extend_from_slice(digits);
        self.spans.push((start..v, v..self.end()));
    }

    /// The `variable_*` headers of `vars` (which keeps them encoded).
    pub(crate) fn append_vars(&mut self, vars: &Vars) {
        let (bytes, spans) = vars.encoded();
        let base = self.end();
        self.buf.extend_from_slice(bytes);
        self.spans.extend(
            spans
                .iter()
                .map(|s| (s.start + base..s.value + base, s.value + base..s.end + base)),
        );
    }

    /// Every header of `other`, after this block's.
    pub(crate) fn append(&mut self, other: &Block) {
        let base = self.end();
        self.buf.extend_from_slice(&other.buf);
        self.spans.extend(
            other
                .spans
                .iter()
                .map(|(n, v)| (n.start + base..n.end + base, v.start + base..v.end + base)),
        );
    }
}

/// `n` in decimal, written at the end of `buf` two digits at a time (event headers carry
/// a dozen 16-digit microsecond times each).
pub(crate) fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let mut i = buf.len();
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + n as u8;
    }
    &buf[i..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_matches_display() {
        for n in [
            0,
            7,
            10,
            99,
            100,
            101,
            999,
            1000,
            65_535,
            1_795_521_385_000_000,
            u64::MAX,
        ]
        .into_iter()
        .chain((0..2000).map(|i| i * 37))
        {
            let mut buf = [0u8; 20];
            assert_eq!(decimal(n, &mut buf), n.to_string().as_bytes(), "{n}");
        }
    }

    #[test]
    fn appended_blocks_read_as_pushed() {
        let mut a = Block::default();
        a.push("Event-Name", "CHANNEL_STATE");
        a.push_u64("", "Event-Sequence", 0);
        let mut b = Block::default();
        b.push_prefixed("variable_", "uuid", "u-1");
        b.push_u64("Caller-", "Channel-Created-Time", 1_795_521_385_000_000);
        a.append(&b);
        a.push("Empty", "");
        let (h, _, _) = a.finish_event();
        let pairs: Vec<(String, String)> = h
            .iter()
            .map(|(n, v)| (n.to_owned(), v.into_owned()))
            .collect();
        let want = [
            ("Event-Name", "CHANNEL_STATE"),
            ("Event-Sequence", "0"),
            ("variable_uuid", "u-1"),
            ("Caller-Channel-Created-Time", "1795521385000000"),
            ("Empty", ""),
        ];
        assert_eq!(
            pairs,
            want.map(|(n, v)| (n.to_owned(), v.to_owned())).to_vec()
        );
        assert_eq!(h, Headers::from_pairs(want));
    }
}
