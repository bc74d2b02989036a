//! The IVR: a sans-IO state machine that greets the caller and reads the room ID and PIN
//! ([`machine`]), and the DTMF decoders that turn RTP, SIP INFO and audio into digits ([`dtmf`]).

pub mod dtmf;
pub mod machine;

/// A recorded prompt. Each is a WAV file `prompts/<lang>/<file_stem>.wav`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Prompt {
    /// "Welcome to dialbridge. Please enter the conference room ID, followed by the hash key."
    Welcome,
    /// "Please enter the PIN, followed by the hash key."
    EnterPin,
    /// "That room ID was not found. Please try again."
    WrongId,
    /// "That PIN is not correct. Please try again."
    WrongPin,
    /// "Too many attempts. Goodbye."
    Goodbye,
    /// "Joining the conference."
    Joining,
    /// "The conference cannot be reached right now. Please try again later. Goodbye."
    Unreachable,
    /// "You are the first participant in this conference."
    Alone,
    /// "The conference has ended. Goodbye."
    Ended,
    /// "You are muted. Press star six to unmute."
    Muted,
    /// "You are unmuted."
    Unmuted,
    /// "You have been removed from the conference. Goodbye."
    Removed,
    /// "Too many wrong entries. Please try again later." (a guessing lockout)
    Locked,
    /// "This service is closing for maintenance. Please call again in a minute. Goodbye."
    /// (a drain reached its limit)
    Closing,
}

impl Prompt {
    pub const ALL: [Prompt; 14] = [
        Prompt::Welcome,
        Prompt::EnterPin,
        Prompt::WrongId,
        Prompt::WrongPin,
        Prompt::Goodbye,
        Prompt::Joining,
        Prompt::Unreachable,
        Prompt::Alone,
        Prompt::Ended,
        Prompt::Muted,
        Prompt::Unmuted,
        Prompt::Removed,
        Prompt::Locked,
        Prompt::Closing,
    ];

    /// The file name without `.wav`.
    pub fn file_stem(self) -> &'static str {
        match self {
            Prompt::Welcome => "welcome",
            Prompt::EnterPin => "enter_pin",
            Prompt::WrongId => "wrong_id",
            Prompt::WrongPin => "wrong_pin",
            Prompt::Goodbye => "goodbye",
            Prompt::Joining => "joining",
            Prompt::Unreachable => "unreachable",
            Prompt::Alone => "alone",
            Prompt::Ended => "ended",
            Prompt::Muted => "muted",
            Prompt::Unmuted => "unmuted",
            Prompt::Removed => "removed",
            Prompt::Locked => "locked",
            Prompt::Closing => "closing",
        }
    }
}
