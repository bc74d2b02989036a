//! The words the IVR and its driver exchange: [`IvrConfig`] going in at the start, [`IvrInput`]
//! answers and events, [`IvrAction`] requests, and the loggable [`IvrState`].

use std::time::Duration;

use crate::ivr::Prompt;

/// IVR limits. The defaults match `[ivr]` in `dialbridge.example.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IvrConfig {
    /// Room IDs shorter than this are a wrong attempt without asking the conference.
    pub room_id_min_digits: usize,
    /// The room ID entry ends by itself at this many digits.
    pub room_id_max_digits: usize,
    /// The PIN entry ends by itself at this many digits.
    pub pin_max_digits: usize,
    /// Wrong entries (room IDs, PINs and unanswered questions together) before goodbye.
    pub max_attempts: u32,
    /// Quiet time that ends an entry, or after a prompt without any key, repeats the question.
    pub inter_digit_timeout: Duration,
    /// Time from the start of the IVR until the caller is sent away.
    pub overall_timeout: Duration,
}

impl Default for IvrConfig {
    fn default() -> Self {
        Self {
            room_id_min_digits: 3,
            room_id_max_digits: 10,
            pin_max_digits: 10,
            max_attempts: 3,
            inter_digit_timeout: Duration::from_secs(5),
            overall_timeout: Duration::from_secs(120),
        }
    }
}

/// What the driver tells the IVR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IvrInput {
    /// A key press (already merged across DTMF sources).
    Digit(char),
    /// The last `Play` played to its end.
    PromptDone,
    RoomLookup(LookupOutcome),
    PinChecked(PinOutcome),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupOutcome {
    Found { pin_required: bool },
    NotFound,
    Unreachable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinOutcome {
    Correct,
    Wrong,
    Unreachable,
}

/// What the IVR asks the driver to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IvrAction {
    Play(Prompt),
    StopPrompt,
    LookupRoom { room: String },
    CheckPin { room: String, pin: String },
    Join { room: String, pin: Option<String> },
    Hangup,
}

/// Which entry the caller is typing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    RoomId,
    Pin,
}

impl Entry {
    /// The prompt that asks for this entry.
    pub(super) fn question(self) -> Prompt {
        match self {
            Entry::RoomId => Prompt::Welcome,
            Entry::Pin => Prompt::EnterPin,
        }
    }
}

/// Where the IVR is, for logs and tests. Carries no digits, so it is safe to log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IvrState {
    Collecting {
        what: Entry,
    },
    /// Waiting for the room lookup.
    Looking,
    /// Waiting for the PIN check.
    CheckingPin,
    /// `Join` was emitted; the IVR is finished.
    Joined,
    /// Playing goodbye or unreachable; `Hangup` follows.
    Ending,
    /// `Hangup` was emitted.
    Done,
}
