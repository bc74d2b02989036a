//! Debian's baresip (1.0, `baresip-core`) as a phone: a config folder written by the test, a
//! 1000 Hz tone as its microphone (`ausine`), what it hears and sends dumped to WAV files
//! (`sndfile`), and control over `ctrl_tcp` (JSON in netstrings: commands such as `dial` and
//! `sndcode`, which sends digits as RFC 4733 events, and events such as `CALL_ESTABLISHED`), so
//! the test waits for events instead of sleeping. Killed on drop; its output is in
//! `baresip.log` in the test folder.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::tools;

/// The tone baresip sends, in Hz.
pub const TONE_HZ: u32 = 1000;

/// How the phone reaches the bridge.
#[derive(Debug, Clone)]
pub struct Account {
    /// `mediaenc` of the account: `srtp-mand`, `srtp`, or empty for plain RTP.
    pub mediaenc: String,
    /// baresip's `audio_codecs` (`PCMU`, `PCMA` ...).
    pub codecs: String,
    /// CA certificate baresip trusts for TLS (`sip_cafile`).
    pub cafile: Option<PathBuf>,
}

pub struct Baresip {
    child: Child,
    control: TcpStream,
    events: mpsc::Receiver<Value>,
    /// The folder of the config and the audio dumps.
    pub dir: PathBuf,
    pub log: PathBuf,
}

impl Baresip {
    /// Starts baresip with its config in `<dir>/baresip` and connects to its control port.
    pub fn start(dir: &Path, account: &Account) -> Baresip {
        let bin = tools::require_tool("baresip", "install baresip-core (scripts/install-deps.sh)");
        let home = dir.join("baresip");
        let dumps = home.join("dumps");
        std::fs::create_dir_all(&dumps).expect("creating the baresip folder");
        // `snd_path` is relative to baresip's working folder (`home`): its file name buffer is
        // short, and a long absolute path is cut off.
        let control_port = tools::free_port();
        let sip_port = tools::free_port();
        let cafile = account
            .cafile
            .as_ref()
            .map(|ca| format!("sip_cafile\t{}\n", ca.display()))
            .unwrap_or_default();
        let config = format!(
            "poll_method\tepoll\nsip_listen\t127.0.0.1:{sip_port}\n{cafile}\
             call_local_timeout\t120\naudio_player\taubridge,sink\naudio_source\tausine,{TONE_HZ}\n\
             audio_alert\taubridge,sink\nausrc_srate\t48000\nausrc_channels\t2\n\
             auplay_srate\t48000\nauplay_channels\t2\nrtcp_mux\tno\n\
             jitter_buffer_delay\t1-10\nrtp_stats\tno\nsnd_path\tdumps\n\
             module_path\t/usr/lib/baresip/modules\n\
             module\tg711.so\nmodule\tausine.so\nmodule\taubridge.so\nmodule\tsndfile.so\n\
             module\tsrtp.so\nmodule\tctrl_tcp.so\nctrl_tcp_listen\t127.0.0.1:{control_port}\n\
             module_tmp\taccount.so\nmodule_app\tmenu.so\n",
        );
        std::fs::write(home.join("config"), config).expect("writing the baresip config");
        let mut params = format!(";regint=0;audio_codecs={}", account.codecs);
        if !account.mediaenc.is_empty() {
            params.push_str(&format!(";mediaenc={}", account.mediaenc));
        }
        std::fs::write(
            home.join("accounts"),
            format!("<sip:phone@127.0.0.1>{params}\n"),
        )
        .expect("writing the baresip accounts");
        std::fs::write(home.join("contacts"), "").expect("writing the baresip contacts");
        let log = dir.join("baresip.log");
        let out = std::fs::File::create(&log).expect("creating the baresip log");
        let err = out.try_clone().expect("cloning a file handle");
        let mut child = Command::new(bin)
            .arg("-f")
            .arg(&home)
            .current_dir(&home)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("starting baresip");
        let control = tools::poll(
            "baresip's control port",
            Duration::from_secs(10),
            Duration::from_millis(50),
            || TcpStream::connect(("127.0.0.1", control_port)).ok(),
            || tools::tail(&log, 20),
        );
        if let Ok(Some(status)) = child.try_wait() {
            panic!("baresip exited ({status}); log:\n{}", tools::tail(&log, 40));
        }
        let events = read_netstrings(control.try_clone().expect("cloning the control socket"));
        Baresip {
            child,
            control,
            events,
            dir: home,
            log,
        }
    }

    /// Sends a control command (`dial`, `sndcode`, `hangup` ...).
    pub fn command(&mut self, command: &str, params: &str) {
        let json = serde_json::json!({"command": command, "params": params, "token": command});
        let text = json.to_string();
        let frame = format!("{}:{text},", text.len());
        self.control
            .write_all(frame.as_bytes())
            .expect("writing to baresip's control port");
    }

    /// Waits for the event of type `kind` (`CALL_ESTABLISHED` ...); panics after `timeout` or
    /// on `CALL_CLOSED` while waiting for something else.
    pub fn wait_event(&mut self, kind: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(v) if v["type"] == kind => return v,
                Ok(v) if v["type"] == "CALL_CLOSED" => {
                    panic!("baresip's call closed while waiting for {kind}: {v}")
                }
                Ok(_) => {}
                Err(_) => panic!(
                    "no {kind} event from baresip within {timeout:?}; log:\n{}",
                    tools::tail(&self.log, 40)
                ),
            }
        }
    }

    /// The audio baresip decoded from the call so far (mono, 8 kHz for G.711), read from the
    /// `sndfile` dump while it is still being written.
    pub fn heard(&self) -> (Vec<i16>, u32) {
        self.dump("dec")
    }

    /// The audio baresip encoded and sent (its tone), from the `sndfile` dump.
    pub fn sent(&self) -> (Vec<i16>, u32) {
        self.dump("enc")
    }

    fn dump(&self, kind: &str) -> (Vec<i16>, u32) {
        let dumps = self.dir.join("dumps");
        let file = std::fs::read_dir(&dumps).ok().and_then(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.to_string_lossy().ends_with(&format!("-{kind}.wav")))
        });
        let Some(file) = file else {
            return (Vec::new(), 8000);
        };
        let mut bytes = Vec::new();
        if let Ok(mut f) = std::fs::File::open(&file) {
            let _ = f.read_to_end(&mut bytes);
        }
        wav_samples_so_far(&bytes)
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The samples and rate of a WAV file that may still be growing (its header's sizes not yet
/// written): the first channel of 16-bit PCM after the `data` chunk header.
fn wav_samples_so_far(bytes: &[u8]) -> (Vec<i16>, u32) {
    let field = |at: usize, n: usize| bytes.get(at..at + n);
    let (Some(channels), Some(rate)) = (field(22, 2), field(24, 4)) else {
        return (Vec::new(), 8000);
    };
    let channels = usize::from(u16::from_le_bytes([channels[0], channels[1]])).max(1);
    let rate = u32::from_le_bytes([rate[0], rate[1], rate[2], rate[3]]);
    let Some(data) = bytes.windows(4).position(|w| w == b"data") else {
        return (Vec::new(), rate);
    };
    let samples = bytes[(data + 8).min(bytes.len())..]
        .chunks_exact(2 * channels)
        .map(|frame| i16::from_le_bytes([frame[0], frame[1]]))
        .collect();
    (samples, rate)
}

/// Reads `len:json,` frames from baresip's control socket into a channel.
fn read_netstrings(stream: TcpStream) -> mpsc::Receiver<Value> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        loop {
            let mut len = Vec::new();
            if reader.read_until(b':', &mut len).unwrap_or(0) == 0 {
                return;
            }
            let Ok(n) = String::from_utf8_lossy(&len[..len.len() - 1])
                .trim()
                .parse::<usize>()
            else {
                return;
            };
            let mut body = vec![0u8; n + 1];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            if let Ok(v) = serde_json::from_slice::<Value>(&body[..n])
                && tx.send(v).is_err()
            {
                return;
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growing_wav_is_read_up_to_its_end() {
        let mut wav = b"RIFF\0\0\0\0WAVEfmt \x10\0\0\0\x01\0\x02\0\x40\x1f\0\0".to_vec();
        wav.extend_from_slice(&[0; 8]);
        wav.extend_from_slice(b"data\0\0\0\0");
        for s in [1i16, -1, 2, -2, 3] {
            wav.extend_from_slice(&s.to_le_bytes());
        }
        assert_eq!(wav_samples_so_far(&wav), (vec![1, 2], 8000));
        assert_eq!(wav_samples_so_far(b"RIFF"), (Vec::new(), 8000));
    }
}
