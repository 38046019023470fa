//! The caller profile and the header blocks that show it (`Caller-*`, `Other-Leg-*`, the
//! channel's ids), cached per channel in a [`BlockCache`] and copied in whole until what they
//! show changes.

use super::block::Block;

/// `Call-Direction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallDirection {
    Inbound,
    Outbound,
}

impl CallDirection {
    pub fn name(self) -> &'static str {
        match self {
            CallDirection::Inbound => "inbound",
            CallDirection::Outbound => "outbound",
        }
    }
}

/// The caller profile (`Caller-*` headers) and its timestamps (wall-clock microseconds, 0 =
/// not yet).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Profile {
    pub caller_id_name: String,
    pub caller_id_number: String,
    pub callee_id_name: String,
    pub callee_id_number: String,
    pub destination_number: String,
    pub source: String,
    pub context: String,
    pub created: u64,
    pub answered: u64,
    pub progress: u64,
    pub progress_media: u64,
    pub hangup: u64,
    pub transfer: u64,
    pub bridged: u64,
}

impl Clone for Profile {
    fn clone(&self) -> Profile {
        let mut p = Profile::default();
        p.clone_from(self);
        p
    }

    /// Field by field, reusing this profile's string buffers (the pattern names every field,
    /// so a new one cannot be forgotten here).
    fn clone_from(&mut self, o: &Profile) {
        let Profile {
            caller_id_name,
            caller_id_number,
            callee_id_name,
            callee_id_number,
            destination_number,
            source,
            context,
            created,
            answered,
            progress,
            progress_media,
            hangup,
            transfer,
            bridged,
        } = o;
        self.caller_id_name.clone_from(caller_id_name);
        self.caller_id_number.clone_from(caller_id_number);
        self.callee_id_name.clone_from(callee_id_name);
        self.callee_id_number.clone_from(callee_id_number);
        self.destination_number.clone_from(destination_number);
        self.source.clone_from(source);
        self.context.clone_from(context);
        self.created = *created;
        self.answered = *answered;
        self.progress = *progress;
        self.progress_media = *progress_media;
        self.hangup = *hangup;
        self.transfer = *transfer;
        self.bridged = *bridged;
    }
}

/// What a channel's profile blocks are written from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Leg<'a> {
    pub(crate) profile: &'a Profile,
    pub(crate) name: &'a str,
    pub(crate) uuid: &'a str,
    pub(crate) direction: CallDirection,
}

/// What a channel's profile blocks show.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ProfileKey {
    profile: Profile,
    name: String,
    uuid: String,
    direction: CallDirection,
}

impl ProfileKey {
    /// Whether the names part (everything but the times) still matches.
    fn same_names(&self, c: &Leg<'_>) -> bool {
        let (a, b) = (&self.profile, c.profile);
        self.direction == c.direction
            && a.caller_id_name == b.caller_id_name
            && a.caller_id_number == b.caller_id_number
            && a.callee_id_name == b.callee_id_name
            && a.callee_id_number == b.callee_id_number
            && a.destination_number == b.destination_number
            && self.uuid == c.uuid
            && a.source == b.source
            && a.context == b.context
            && self.name == c.name
    }
}

/// The times part of a profile, in block order.
fn times(p: &Profile) -> [u64; 7] {
    [
        p.created,
        p.answered,
        p.progress,
        p.progress_media,
        p.hangup,
        p.transfer,
        p.bridged,
    ]
}

/// A channel's encoded blocks, each valid while the channel shows what it was built from.
/// A profile block is two parts, names and times, so the times changing (ring, answer,
/// bridge, hangup) rebuilds only the second. A rebuild reuses the blocks' buffers, and a
/// destroyed channel's cache goes to the next channel ([`BlockCache::recycle`]), so a cache
/// allocates only while its buffers grow to a channel's size.
#[derive(Debug, Clone, Default)]
pub(crate) struct BlockCache {
    /// What the blocks show (its strings keep their buffers across rebuilds and channels).
    profile: ProfileKey,
    /// Whether `profile` describes the blocks (false in a new or recycled cache).
    valid: bool,
    /// `Caller-*` (with `Profile-Index`): names, times.
    caller: [Block; 2],
    /// The channel block's `Channel-Name` … `Presence-Call-Direction`.
    ids: Block,
    /// `Other-Leg-*`: this channel as another channel's other leg, names and times (built
    /// when first needed: `other_valid`).
    other: [Block; 2],
    other_valid: [bool; 2],
}

impl Default for ProfileKey {
    fn default() -> ProfileKey {
        ProfileKey {
            profile: Profile::default(),
            name: String::new(),
            uuid: String::new(),
            direction: CallDirection::Inbound,
        }
    }
}

impl BlockCache {
    /// This cache, emptied for another channel (its buffers kept).
    pub(crate) fn recycle(mut self) -> BlockCache {
        self.valid = false;
        self.other_valid = [false; 2];
        self
    }

    fn profile_fresh(&mut self, c: &Leg<'_>) {
        let k = &self.profile;
        let (names, times_same) = if self.valid {
            (k.same_names(c), times(&k.profile) == times(c.profile))
        } else {
            (false, false)
        };
        if names && times_same {
            return;
        }
        // Reuses the key's strings' buffers: profiles change a few times per channel.
        let k = &mut self.profile;
        k.profile.clone_from(c.profile);
        k.name.clear();
        k.name.push_str(c.name);
        k.uuid.clear();
        k.uuid.push_str(c.uuid);
        k.direction = c.direction;
        self.valid = true;
        if !names {
            self.caller[0].clear();
            profile_names(&mut self.caller[0], c, "Caller-", true);
            self.other_valid[0] = false;
            self.ids.clear();
            channel_ids(&mut self.ids, c);
        }
        if !times_same {
            self.caller[1].clear();
            profile_times(&mut self.caller[1], c.profile, "Caller-");
            self.other_valid[1] = false;
        }
    }

    /// The ids part of `c`'s channel block, and its `Caller-*` block in two parts (`c` is
    /// this cache's channel).
    pub(crate) fn caller(&mut self, c: &Leg<'_>) -> [&Block; 3] {
        self.profile_fresh(c);
        [&self.ids, &self.caller[0], &self.caller[1]]
    }

    /// The `Other-Leg-*` block of `c` (this cache's channel), in two parts.
    pub(crate) fn other_leg(&mut self, c: &Leg<'_>) -> [&Block; 2] {
        self.profile_fresh(c);
        let [names, times] = &mut self.other;
        if !self.other_valid[0] {
            names.clear();
            profile_names(names, c, "Other-Leg-", false);
            self.other_valid[0] = true;
        }
        if !self.other_valid[1] {
            times.clear();
            profile_times(times, c.profile, "Other-Leg-");
            self.other_valid[1] = true;
        }
        [names, times]
    }
}

/// The caller profile under `Caller-` (with `Profile-Index`), `Other-Leg-` (without) or
/// `Channel-` (the outbound `connect` data).
pub(crate) fn profile_block(h: &mut Block, c: &Leg<'_>, prefix: &str, own: bool) {
    profile_names(h, c, prefix, own);
    profile_times(h, c.profile, prefix);
}

/// The part of the channel block that names the channel.
pub(crate) fn channel_ids(h: &mut Block, c: &Leg<'_>) {
    h.push("Channel-Name", c.name);
    h.push("Unique-ID", c.uuid);
    h.push("Call-Direction", c.direction.name());
    h.push("Presence-Call-Direction", c.direction.name());
}

/// The first part of a profile block: names, numbers, ids.
fn profile_names(h: &mut Block, c: &Leg<'_>, prefix: &str, own: bool) {
    let p = c.profile;
    let mut push = |n: &str, v: &str| h.push_prefixed(prefix, n, v);
    push("Direction", c.direction.name());
    push("Logical-Direction", c.direction.name());
    push("Dialplan", "xml");
    push("Caller-ID-Name", &p.caller_id_name);
    push("Caller-ID-Number", &p.caller_id_number);
    push("Orig-Caller-ID-Name", &p.caller_id_name);
    push("Orig-Caller-ID-Number", &p.caller_id_number);
    push("Callee-ID-Name", &p.callee_id_name);
    push("Callee-ID-Number", &p.callee_id_number);
    push("ANI", &p.caller_id_number);
    push("Destination-Number", &p.destination_number);
    push("Unique-ID", c.uuid);
    push("Source", &p.source);
    push("Context", &p.context);
    push("Channel-Name", c.name);
    if own {
        push("Profile-Index", "1");
    }
}

/// The second part of a profile block: the times.
fn profile_times(h: &mut Block, p: &Profile, prefix: &str) {
    for (n, us) in [
        ("Profile-Created-Time", p.created),
        ("Channel-Created-Time", p.created),
        ("Channel-Answered-Time", p.answered),
        ("Channel-Progress-Time", p.progress),
        ("Channel-Progress-Media-Time", p.progress_media),
        ("Channel-Hangup-Time", p.hangup),
        ("Channel-Transfer-Time", p.transfer),
        ("Channel-Resurrect-Time", 0),
        ("Channel-Bridged-Time", p.bridged),
        ("Channel-Last-Hold", 0),
        ("Channel-Hold-Accum", 0),
    ] {
        h.push_u64(prefix, n, us);
    }
    let mut push = |n: &str, v: &str| h.push_prefixed(prefix, n, v);
    push("Screen-Bit", "true");
    push("Privacy-Hide-Name", "false");
    push("Privacy-Hide-Number", "false");
}
