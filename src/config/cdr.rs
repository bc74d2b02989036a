//! `[cdr]`: where call detail records go (one JSON line per call); off unless a path is set.

use serde::Deserialize;

use super::validate::Problems;

/// `[cdr]`: call detail records.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CdrConfig {
    /// File the records are appended to, one JSON object per line, flushed per call; `"-"` is
    /// standard output. Relative to the working directory. Default: none (no records).
    pub path: Option<String>,
}

impl CdrConfig {
    pub(super) fn validate(&self, p: &mut Problems) {
        let Some(path) = self.path.as_deref() else {
            return;
        };
        if path == "-" {
            return;
        }
        let field = "cdr.path";
        if path.trim().is_empty() {
            return p.add(
                field,
                "is empty; give a file to append call records to, \"-\" for standard output, \
                 or leave cdr.path out to write no records",
            );
        }
        let file = std::path::Path::new(path);
        let parent = match file.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => std::path::Path::new("."),
        };
        if !parent.is_dir() {
            return p.add(
                field,
                format!(
                    "the folder {} does not exist; create it (writable by the dialbridge user) \
                     or choose another file",
                    parent.display()
                ),
            );
        }
        match std::fs::metadata(file) {
            Ok(meta) if meta.is_dir() => p.add(
                field,
                format!("{path} is a folder; name a file inside it, e.g. {path}/calls.jsonl"),
            ),
            Ok(meta) if meta.permissions().readonly() => p.add(
                field,
                format!("{path} is read-only; call records could not be appended to it"),
            ),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    fn problems(path: Option<&str>) -> Vec<String> {
        let mut c = crate::config::Config::default();
        c.cdr.path = path.map(String::from);
        c.validate()
            .iter()
            .filter(|p| p.field == "cdr.path")
            .map(|p| p.to_string())
            .collect()
    }

    #[test]
    fn off_stdout_and_a_new_file_in_an_existing_folder_are_fine() {
        assert!(problems(None).is_empty());
        assert!(problems(Some("-")).is_empty());
        let file = std::env::temp_dir().join("dialbridge-cdr-check.jsonl");
        assert!(problems(Some(file.to_str().unwrap())).is_empty());
        assert!(
            problems(Some("calls.jsonl")).is_empty(),
            "relative: the working directory"
        );
    }

    #[test]
    fn says_what_is_wrong_with_the_path() {
        let empty = problems(Some(" "));
        assert!(empty[0].starts_with("cdr.path: is empty"), "{empty:?}");
        let missing = problems(Some("/nonexistent-dialbridge/calls.jsonl"));
        assert!(missing[0].contains("does not exist"), "{missing:?}");
        let dir = std::env::temp_dir();
        let folder = problems(Some(dir.to_str().unwrap()));
        assert!(folder[0].contains("is a folder"), "{folder:?}");
    }
}
