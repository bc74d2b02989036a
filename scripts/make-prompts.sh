#!/bin/sh
# Regenerates every IVR prompt WAV under prompts/<lang>/ with espeak-ng and sox.
#
# Output format (what src/media/prompts.rs expects, though it converts other PCM WAVs too):
# mono, 16 kHz, 16-bit signed PCM; ~150 ms of leading silence (so the first syllable is not
# clipped while the phone's jitter buffer fills), a short fade in/out, peak normalised to -3 dBFS.
#
# Usage: scripts/make-prompts.sh [output-dir]   (default: the prompts/ folder of this checkout)
# Needs: espeak-ng, sox (Debian packages of the same names).
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-"$here/prompts"}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for tool in espeak-ng sox; do
    command -v "$tool" >/dev/null 2>&1 || { echo "missing $tool (apt-get install $tool)" >&2; exit 1; }
done

# say LANG VOICE STEM TEXT: speaks TEXT with espeak-ng VOICE into $out/LANG/STEM.wav.
say() {
    lang=$1 voice=$2 stem=$3 text=$4
    mkdir -p "$out/$lang"
    # -s: words per minute; a little slower than the default 175 is easier to follow on a phone.
    espeak-ng -v "$voice" -s 150 -w "$tmp/raw.wav" "$text"
    # Trim espeak's own edge silence first (a separate pass: `fade` needs a known length), then
    # convert, fade, normalise and pad.
    sox "$tmp/raw.wav" "$tmp/trimmed.wav" silence 1 0.01 0.1% reverse silence 1 0.01 0.1% reverse
    # -D: no dither, so regenerating gives byte-identical files.
    sox -D "$tmp/trimmed.wav" -r 16000 -c 1 -b 16 -e signed-integer "$out/$lang/$stem.wav" \
        fade t 0.02 -0 0.05 norm -3 pad 0.15 0.1
    echo "$out/$lang/$stem.wav"
}

# English (voice en-us). Keep in sync with the doc comments of crate::ivr::Prompt.
say en en-us welcome "Welcome to dialbridge. Please enter the conference room ID, followed by the hash key."
say en en-us enter_pin "Please enter the PIN for this room, followed by the hash key."
say en en-us wrong_id "That room ID was not found. Please try again."
say en en-us wrong_pin "That PIN is not correct. Please try again."
say en en-us goodbye "Sorry, too many attempts. Goodbye."
say en en-us joining "Thank you. Joining the conference now."
say en en-us unreachable "The conference cannot be reached right now. Please try again later. Goodbye."
say en en-us alone "You are the first participant in this conference."
say en en-us ended "The conference has ended. Goodbye."
say en en-us muted "You are muted. Press star six to unmute."
say en en-us unmuted "You are unmuted."
say en en-us removed "You have been removed from the conference. Goodbye."
say en en-us locked "Too many wrong entries. Please try again later."
say en en-us closing "This service is closing for maintenance. Please call again in a minute. Goodbye."

# German (voice de). "Rautetaste" is what German phone menus call the hash key.
say de de welcome "Willkommen bei dialbridge. Bitte geben Sie die Nummer des Konferenzraums ein, gefolgt von der Rautetaste."
say de de enter_pin "Bitte geben Sie die PIN für diesen Raum ein, gefolgt von der Rautetaste."
say de de wrong_id "Diese Raumnummer wurde nicht gefunden. Bitte versuchen Sie es noch einmal."
say de de wrong_pin "Diese PIN ist nicht korrekt. Bitte versuchen Sie es noch einmal."
say de de goodbye "Leider zu viele Versuche. Auf Wiederhören."
say de de joining "Vielen Dank. Sie werden jetzt mit der Konferenz verbunden."
say de de unreachable "Die Konferenz ist zurzeit nicht erreichbar. Bitte versuchen Sie es später noch einmal. Auf Wiederhören."
say de de alone "Sie sind der erste Teilnehmer in dieser Konferenz."
say de de ended "Die Konferenz wurde beendet. Auf Wiederhören."
say de de muted "Ihr Mikrofon ist stummgeschaltet. Drücken Sie Stern sechs, um es wieder einzuschalten."
say de de unmuted "Ihr Mikrofon ist wieder eingeschaltet."
say de de removed "Sie wurden aus der Konferenz entfernt. Auf Wiederhören."
say de de locked "Zu viele falsche Eingaben. Bitte versuchen Sie es später noch einmal."
say de de closing "Dieser Dienst wird für Wartungsarbeiten beendet. Bitte rufen Sie in einer Minute wieder an. Auf Wiederhören."
