//! Turning TOML text into a [`Config`](super::Config) (or any tree that deserializes), with errors that name the file, line and section.

use std::net::IpAddr;
use std::path::PathBuf;

use ipnet::IpNet;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

/// Why a config file could not be loaded. Validation problems are [`ConfigProblem`](super::ConfigProblem)s
/// instead.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not fit the config tree. `line` is 1-based.
    #[error("{}", parse_error_text(file, *line, section.as_deref(), message, snippet.as_deref()))]
    Parse {
        /// The file name, or "config" for a string.
        file: String,
        line: Option<usize>,
        /// The `[table]` the error is in, when known.
        section: Option<String>,
        message: String,
        /// The offending line of the file.
        snippet: Option<String>,
    },
}

fn parse_error_text(
    file: &str,
    line: Option<usize>,
    section: Option<&str>,
    message: &str,
    snippet: Option<&str>,
) -> String {
    let mut s = file.to_string();
    if let Some(line) = line {
        s.push_str(&format!(" line {line}"));
    }
    if let Some(section) = section {
        s.push_str(&format!(" (in [{section}])"));
    }
    s.push_str(": ");
    s.push_str(message.trim_end());
    if let Some(snippet) = snippet {
        s.push_str(&format!("\n    {}", snippet.trim_end()));
    }
    s
}

/// Accepts CIDRs and plain IPs (a plain IP is one host: /32 or /128).
pub(super) fn de_allow_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
    let raw = Vec::<String>::deserialize(d)?;
    raw.iter()
        .map(|s| parse_allow_entry(s).map_err(serde::de::Error::custom))
        .collect()
}

/// Like [`de_allow_list`], for a list that may be left out (`None`: the field's default rule).
pub(super) fn de_opt_allow_list<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<IpNet>>, D::Error> {
    de_allow_list(d).map(Some)
}

fn parse_allow_entry(s: &str) -> Result<IpNet, String> {
    let t = s.trim();
    t.parse::<IpNet>()
        .or_else(|_| t.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{s:?} is neither an IP address nor a network like \"192.0.2.0/24\""))
}

pub(super) fn parse<T: DeserializeOwned>(text: &str, file: &str) -> Result<T, ConfigError> {
    toml::from_str::<T>(text).map_err(|e| {
        let offset = e.span().map(|r| r.start.min(text.len()));
        let line = offset.map(|o| text[..o].matches('\n').count() + 1);
        let line_text = line
            .and_then(|l| text.lines().nth(l - 1))
            .map(str::to_string);
        let section = offset.and_then(|o| section_at(text, o));
        ConfigError::Parse {
            file: file.to_string(),
            line,
            section,
            message: e.message().to_string(),
            snippet: line_text.filter(|s| !s.trim().is_empty()),
        }
    })
}

/// The name of the last `[table]` or `[[array]]` header before byte `offset`.
fn section_at(text: &str, offset: usize) -> Option<String> {
    text.get(..offset)?
        .lines()
        .map(str::trim)
        .rfind(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string())
}
