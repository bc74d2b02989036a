//! The Debian package (`cargo deb`; metadata in Cargo.toml, scripts and unit in `deploy/`):
//! its files, control fields and maintainer scripts, then a real `dpkg -i` into a throwaway root
//! and the installed binary run from the installed paths as the package's own user.
//!
//! The throwaway root: the test re-runs itself in a mount and network namespace of its own
//! (`unshare`), with a tmpfs-backed overlay over `/etc`, `/usr` and `/var`. dpkg, adduser and the
//! maintainer scripts change only the overlay, which is gone when the namespace ends; the
//! namespace's own loopback lets the demo take its fixed ports 5060 and 8080.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::call::{Caller, PROMPT};
use common::tools::{require_tool, test_dir};

/// Set in the re-run inside the namespace.
const INSIDE: &str = "DIALBRIDGE_PACKAGE_TEST_INSIDE";
const DEB_ENV: &str = "DIALBRIDGE_PACKAGE_TEST_DEB";

#[test]
fn the_deb_installs_and_its_binary_runs_from_the_installed_paths() {
    if let Some(deb) = std::env::var_os(DEB_ENV).filter(|_| std::env::var_os(INSIDE).is_some()) {
        return install_and_run(Path::new(&deb));
    }
    let dir = test_dir();
    let deb = build_deb(&dir);
    check_contents(&deb, &dir);
    // The install and run, in the namespace; its output is this test's output.
    let status = Command::new(require_tool("unshare", "apt install util-linux"))
        .args(["--mount", "--net", "--propagation", "private", "--"])
        .arg(std::env::current_exe().expect("the test binary's path"))
        .args([
            "--exact",
            "the_deb_installs_and_its_binary_runs_from_the_installed_paths",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(INSIDE, "1")
        .env(DEB_ENV, &deb)
        .status()
        .expect("run unshare");
    assert!(
        status.success(),
        "the install-and-run half failed (its output is above)"
    );
}

/// `cargo deb` from the binary this test run built (no release build in the test suite).
fn build_deb(dir: &Path) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let version = Command::new(&cargo).args(["deb", "--version"]).output();
    assert!(
        version.is_ok_and(|o| o.status.success()),
        "cargo-deb not found: run scripts/install-deb-tools.sh"
    );
    require_tool("dpkg-shlibdeps", "apt install dpkg-dev");
    let out = dir.join("deb");
    let built = Command::new(&cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "deb",
            "--no-build",
            "--profile",
            "dev",
            "--fast",
            "--output",
        ])
        .arg(&out)
        .output()
        .expect("run cargo deb");
    assert!(
        built.status.success(),
        "cargo deb failed:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let path = String::from_utf8_lossy(&built.stdout).trim().to_string();
    assert!(
        path.ends_with(".deb"),
        "cargo deb printed no .deb path: {path}"
    );
    PathBuf::from(path)
}

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The files, the control fields and the maintainer scripts, read from the .deb itself.
fn check_contents(deb: &Path, dir: &Path) {
    let deb = deb.to_str().expect("a UTF-8 path");
    let listing = run("dpkg-deb", &["--contents", deb]);
    for path in [
        "./usr/bin/dialbridge",
        "./usr/lib/systemd/system/dialbridge.service",
        "./etc/dialbridge/dialbridge.toml",
        "./usr/share/dialbridge/prompts/en/welcome.wav",
        "./usr/share/dialbridge/prompts/de/welcome.wav",
        "./usr/share/dialbridge/pipelines/phone-rx.txt",
        "./usr/share/doc/dialbridge/docs/operations.md",
    ] {
        assert!(
            listing.lines().any(|l| l.ends_with(path)),
            "{path} missing from the package:\n{listing}"
        );
    }
    let config_line = listing
        .lines()
        .find(|l| l.ends_with("./etc/dialbridge/dialbridge.toml"))
        .unwrap();
    assert!(
        config_line.starts_with("-rw-r-----"),
        "the config may hold secrets and must not be world-readable: {config_line}"
    );

    let control = dir.join("control");
    run("dpkg-deb", &["--control", deb, control.to_str().unwrap()]);
    let read = |name: &str| std::fs::read_to_string(control.join(name)).unwrap_or_default();
    let fields = read("control");
    let depends = fields
        .lines()
        .find_map(|l| l.strip_prefix("Depends: "))
        .unwrap_or_else(|| panic!("no Depends field:\n{fields}"));
    for needed in [
        "libgstreamer1.0-0",
        "gstreamer1.0-plugins-bad",
        "gstreamer1.0-nice",
        "adduser",
    ] {
        assert!(
            depends.contains(needed),
            "Depends lacks {needed}: {depends}"
        );
    }
    assert_eq!(read("conffiles").trim(), "/etc/dialbridge/dialbridge.toml");
    for script in ["postinst", "prerm", "postrm"] {
        let text = read(script);
        assert!(
            text.starts_with("#!/bin/sh"),
            "{script} missing or without a shebang"
        );
        run("sh", &["-n", control.join(script).to_str().unwrap()]);
    }
    assert!(
        read("postinst").contains("adduser --system"),
        "postinst creates no user"
    );

    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/systemd/dialbridge.service"),
    )
    .expect("read the unit");
    for line in [
        "User=dialbridge",
        "Restart=on-failure",
        "KillSignal=SIGTERM",
    ] {
        assert!(unit.lines().any(|l| l == line), "the unit lacks {line}");
    }
    let stop_timeout: u64 = unit
        .lines()
        .find_map(|l| l.strip_prefix("TimeoutStopSec="))
        .and_then(|v| v.parse().ok())
        .expect("the unit sets TimeoutStopSec in seconds");
    // The longest a drain takes: the limit, the goodbye prompts, the hang-ups.
    let limit = u64::from(dialbridge::config::Config::default().drain.limit_s);
    let drain =
        limit + (dialbridge::drain::GOODBYE_GRACE + dialbridge::drain::HANGUP_GRACE).as_secs();
    assert!(
        stop_timeout > drain,
        "TimeoutStopSec={stop_timeout} must cover the longest default drain ({drain} s)"
    );
}

/// Inside the namespace: overlay, `dpkg -i`, then the installed binary.
fn install_and_run(deb: &Path) {
    // Beside the .deb: `test_dir()` would empty the folder that holds it.
    let scratch = deb
        .parent()
        .and_then(Path::parent)
        .expect("the deb's folder")
        .join("root");
    std::fs::create_dir_all(&scratch).unwrap();
    run("ip", &["link", "set", "lo", "up"]);
    for top in ["etc", "usr", "var"] {
        let tmpfs = scratch.join(format!("{top}-tmpfs"));
        std::fs::create_dir_all(&tmpfs).unwrap();
        // overlayfs wants its upper layer on a file system that supports it: a tmpfs.
        run("mount", &["-t", "tmpfs", "tmpfs", tmpfs.to_str().unwrap()]);
        std::fs::create_dir_all(tmpfs.join("upper")).unwrap();
        std::fs::create_dir_all(tmpfs.join("work")).unwrap();
        let options = format!(
            "lowerdir=/{top},upperdir={},workdir={}",
            tmpfs.join("upper").display(),
            tmpfs.join("work").display()
        );
        run(
            "mount",
            &[
                "-t",
                "overlay",
                "overlay",
                "-o",
                &options,
                &format!("/{top}"),
            ],
        );
    }

    let installed = run("dpkg", &["--install", deb.to_str().unwrap()]);
    println!("{installed}");
    let user = run("id", &["dialbridge"]);
    assert!(
        user.contains("(dialbridge)"),
        "postinst made no dialbridge user: {user}"
    );
    let mode = run(
        "stat",
        &["-c", "%a %U:%G", "/etc/dialbridge/dialbridge.toml"],
    );
    assert_eq!(mode.trim(), "640 root:dialbridge");
    run(
        require_tool("systemd-analyze", "apt install systemd")
            .to_str()
            .unwrap(),
        &["verify", "/usr/lib/systemd/system/dialbridge.service"],
    );

    // The example config as installed passes check-config, read by the service's user.
    let checked = as_service_user(&[
        "--config",
        "/etc/dialbridge/dialbridge.toml",
        "check-config",
    ])
    .output()
    .expect("run check-config");
    assert!(
        checked.status.success(),
        "the installed config fails check-config:\n{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );

    // The demo, started from `/`, with the source tree's prompts hidden: they can only come
    // from /usr/share/dialbridge.
    // The test's own reference copies are read first.
    common::audio::PromptLibrary::english();
    let source_prompts = Path::new(env!("CARGO_MANIFEST_DIR")).join("prompts");
    run(
        "mount",
        &["-t", "tmpfs", "tmpfs", source_prompts.to_str().unwrap()],
    );
    let log = std::fs::File::create(scratch.join("demo.log")).unwrap();
    let mut demo = as_service_user(&["demo"])
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("start the installed demo");
    let (tx, rx) = mpsc::channel();
    let stdout = demo.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let ready = rx
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| {
            panic!(
                "the installed demo printed no READY line; see {}",
                scratch.join("demo.log").display()
            )
        });
    assert!(ready.starts_with("READY"), "first line: {ready}");

    let call = Caller::dial(
        &scratch,
        "uac_call.xml",
        "127.0.0.1:5060".parse().unwrap(),
        &[0],
        |s| s,
    );
    call.rtp.expect_prompt("welcome", PROMPT);
    call.hang_up();

    run("kill", &["-TERM", &demo.id().to_string()]);
    let status = demo.wait().expect("wait for the demo");
    assert!(
        status.success(),
        "the demo ended with {status} after SIGTERM"
    );
}

/// The installed binary, run as the package's user with `/` as working directory. `setpriv`
/// execs it (no process in between), so signals and the exit status are the binary's own.
fn as_service_user(args: &[&str]) -> Command {
    let mut command = Command::new(require_tool("setpriv", "apt install util-linux"));
    command
        .args([
            "--reuid=dialbridge",
            "--regid=dialbridge",
            "--init-groups",
            "/usr/bin/dialbridge",
        ])
        .args(args)
        .current_dir("/");
    command
}
