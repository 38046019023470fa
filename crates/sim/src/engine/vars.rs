//! A channel's variables, kept encoded as its events carry them.

/// Ordered channel variables (FreeSWITCH prints them in insertion order), kept the way events
/// carry them: one buffer of `variable_<name><value>` runs and their spans, so an event copies
/// the whole block in two copies (see `block.rs`) and setting a variable allocates nothing
/// once the buffer has grown.
#[derive(Clone, Default)]
pub struct Vars {
    buf: String,
    spans: Vec<VarSpan>,
}

/// One variable in [`Vars::buf`]: `variable_<name>` is `start..value`, the value `value..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VarSpan {
    pub(crate) start: u32,
    pub(crate) value: u32,
    pub(crate) end: u32,
}

/// Writes variables at the end of a [`Vars`] ([`Vars::append_batch`]).
pub(crate) struct VarWriter<'a> {
    vars: &'a mut Vars,
    any_empty: bool,
}

impl VarWriter<'_> {
    /// The variable `<name><suffix>` whose value `value` writes.
    pub(crate) fn put(&mut self, name: &str, suffix: &str, value: impl FnOnce(&mut String)) {
        let v = &mut *self.vars;
        // Variable blocks are event headers: far below 4 GiB.
        let start = v.buf.len() as u32;
        v.buf.push_str(VAR_PREFIX);
        v.buf.push_str(name);
        v.buf.push_str(suffix);
        let at = v.buf.len() as u32;
        value(&mut v.buf);
        let end = v.buf.len() as u32;
        self.any_empty |= end == at;
        v.spans.push(VarSpan {
            start,
            value: at,
            end,
        });
    }
}

/// The prefix of every variable's header name.
pub(crate) const VAR_PREFIX: &str = "variable_";

/// Two variable lists are equal when they hold the same pairs in the same order.
impl PartialEq for Vars {
    fn eq(&self, other: &Vars) -> bool {
        self.spans.len() == other.spans.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Vars {}

impl std::fmt::Debug for Vars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Vars {
    /// A channel's variables: none yet, room for what a loopback channel has when it
    /// reports (2-3 KB, 70-90 variables), so setting them does not grow the buffers.
    pub(crate) fn for_channel() -> Vars {
        Vars {
            buf: String::with_capacity(4096),
            spans: Vec::with_capacity(96),
        }
    }

    fn name_of(&self, s: &VarSpan) -> &str {
        &self.buf[s.start as usize + VAR_PREFIX.len()..s.value as usize]
    }

    fn value_of(&self, s: &VarSpan) -> &str {
        &self.buf[s.value as usize..s.end as usize]
    }

    fn position(&self, name: &str) -> Option<usize> {
        let (buf, name) = (self.buf.as_bytes(), name.as_bytes());
        self.spans.iter().position(|s| {
            let from = s.start as usize + VAR_PREFIX.len();
            s.value as usize - from == name.len() && &buf[from..s.value as usize] == name
        })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.position(name).map(|i| self.value_of(&self.spans[i]))
    }

    /// Sets a variable; an empty value unsets it, as `set name=` does. Like FreeSWITCH (which
    /// deletes the header and adds it at the bottom), a variable set again moves to the end.
    pub fn set(&mut self, name: &str, value: &str) {
        if let Some(i) = self.position(name) {
            self.remove(i);
        }
        if !value.is_empty() {
            self.push(name, value);
        }
    }

    /// [`Vars::set`] for each pair in turn, in one pass over the list (the variables a
    /// channel gets when it reports: about 70 names, most of them new).
    pub fn set_all(&mut self, batch: &[(&str, &str)]) {
        let mut names: Vec<&str> = batch.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w[0] == w[1]) {
            // A name set twice: its last value wins, at its last place.
            for (n, v) in batch {
                self.set(n, v);
            }
            return;
        }
        let again = |vars: &Vars, s: &VarSpan| names.binary_search(&vars.name_of(s)).is_ok();
        if self.spans.iter().any(|s| again(self, s)) {
            let old = std::mem::take(self);
            self.buf.reserve(old.buf.len());
            for s in old.spans.iter().filter(|s| !again(&old, s)) {
                self.push(old.name_of(s), old.value_of(s));
            }
        }
        let bytes: usize = batch
            .iter()
            .map(|(n, v)| VAR_PREFIX.len() + n.len() + v.len())
            .sum();
        self.buf.reserve(bytes);
        self.spans.reserve(batch.len());
        for (n, v) in batch {
            if !v.is_empty() {
                self.push(n, v);
            }
        }
    }

    /// Appends the variables `write` puts, with [`Vars::set`]'s rules as if each had been set
    /// in turn (an earlier variable of the same name goes, an empty value unsets). Written
    /// straight into the buffer; then the variables that go are found (a 4096-bit filter over
    /// the new names, each hit confirmed by comparing names) and removed in place, which for a
    /// reporting channel's ~70 end variables is usually one empty value or none.
    pub(crate) fn append_batch(&mut self, write: impl FnOnce(&mut VarWriter<'_>)) {
        let old = self.spans.len();
        let mut w = VarWriter {
            vars: self,
            any_empty: false,
        };
        write(&mut w);
        let any_empty = w.any_empty;
        if old == self.spans.len() {
            return;
        }
        let mut bits = [0u64; 64];
        let bit = |name: &str| {
            let h = parkway_esl::fasthash::digest(&[name.as_bytes()]);
            // The top 12 bits: 64 words of 64 bits.
            ((h >> 58) as usize, 1u64 << ((h >> 52) & 63))
        };
        // Indexes of the variables that go: rare, so allocated only when there is one.
        let mut gone: Vec<usize> = Vec::new();
        for j in old..self.spans.len() {
            let name = self.name_of(&self.spans[j]);
            let (word, mask) = bit(name);
            if bits[word] & mask != 0 {
                // A name set earlier in this batch: that earlier one goes (once).
                for i in old..j {
                    if self.name_of(&self.spans[i]) == name && !gone.contains(&i) {
                        gone.push(i);
                    }
                }
            }
            bits[word] |= mask;
            if any_empty && self.spans[j].value == self.spans[j].end {
                gone.push(j);
            }
        }
        for i in 0..old {
            let name = self.name_of(&self.spans[i]);
            let (word, mask) = bit(name);
            if bits[word] & mask != 0 && self.spans[old..].iter().any(|n| self.name_of(n) == name) {
                gone.push(i);
            }
        }
        // Last first, so the spans still to remove keep their places.
        gone.sort_unstable_by(|a, b| b.cmp(a));
        for i in gone {
            self.remove(i);
        }
    }

    /// Removes the variable at `i`, moving the ones after it down.
    fn remove(&mut self, i: usize) {
        let gone = self.spans.remove(i);
        self.buf
            .replace_range(gone.start as usize..gone.end as usize, "");
        let shift = gone.end - gone.start;
        for s in &mut self.spans[i..] {
            s.start -= shift;
            s.value -= shift;
            s.end -= shift;
        }
    }

    fn push(&mut self, name: &str, value: &str) {
        // Variable blocks are event headers: far below 4 GiB.
        let start = self.buf.len() as u32;
        self.buf.push_str(VAR_PREFIX);
        self.buf.push_str(name);
        let at = self.buf.len() as u32;
        self.buf.push_str(value);
        self.spans.push(VarSpan {
            start,
            value: at,
            end: self.buf.len() as u32,
        });
    }

    pub fn is_true(&self, name: &str) -> bool {
        self.get(name).is_some_and(is_true)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.spans
            .iter()
            .map(|s| (self.name_of(s), self.value_of(s)))
    }

    /// The encoded block: bytes and spans (see [`VarSpan`]).
    pub(crate) fn encoded(&self) -> (&[u8], &[VarSpan]) {
        (self.buf.as_bytes(), &self.spans)
    }
}

/// FreeSWITCH's `switch_true`.
pub fn is_true(value: &str) -> bool {
    matches!(
        value.to_ascii_lowercase().as_str(),
        "true" | "yes" | "on" | "enabled" | "active" | "allow" | "1"
    ) || value.parse::<i64>().is_ok_and(|n| n > 0)
}
