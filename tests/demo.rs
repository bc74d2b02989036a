//! `dialbridge demo` works as the README says: one command, no config file, SIP on
//! 127.0.0.1:5060, the host page on http://127.0.0.1:8080/, room 1234 without PIN. The demo's
//! ports are fixed, so the test runs it in a network namespace of its own (nothing else can
//! hold those ports there, and nothing leaves it); a phone calls sip:1234@127.0.0.1:5060, hears
//! the welcome prompt, types 1234#, hears "joining" and then "you are the first participant".

mod common;

use common::phone::Phone;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Kills the demo when the test ends, passed or not.
struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn demo_answers_calls_and_serves_the_host_page_as_the_readme_says() {
    if !common::setup::inside_netns(
        "demo_answers_calls_and_serves_the_host_page_as_the_readme_says",
    ) {
        return;
    }
    let dir = common::tools::named_test_dir("demo");
    let log = std::fs::File::create(dir.join("demo.log")).expect("create the demo log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_dialbridge"))
        .arg("demo")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("start dialbridge demo");
    let stdout = child.stdout.take().expect("stdout is piped");
    let demo = Demo(child);

    // The READY line and the instructions, as the README promises.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = String::new();
    while !printed.contains("Host page:") {
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) => printed += &(line + "\n"),
            Err(_) => panic!(
                "demo printed no instructions within 20 s; so far:\n{printed}\nlog: {}",
                dir.join("demo.log").display()
            ),
        }
    }
    assert!(
        printed.contains("READY sip=127.0.0.1:5060 signaling=127.0.0.1:8080"),
        "{printed}"
    );
    assert!(
        printed.contains("sip:1234@127.0.0.1:5060"),
        "the demo should say how to call room 1234:\n{printed}"
    );
    assert!(printed.contains("http://127.0.0.1:8080/"), "{printed}");

    let page = http_get(SocketAddr::new(LOCALHOST, 8080), "/");
    assert!(
        page.starts_with("HTTP/1.1 200"),
        "host page: {}",
        &page[..page.len().min(200)]
    );
    assert!(
        page.to_ascii_lowercase()
            .contains("content-type: text/html"),
        "host page is not HTML"
    );

    let mut phone = Phone::call(LOCALHOST, SocketAddr::new(LOCALHOST, 5060));
    phone.rtp.wait_prompt("welcome", Duration::from_secs(15));
    phone.rtp.press("1234#");
    phone.rtp.wait_keys_sent(Duration::from_secs(10));
    phone.rtp.wait_prompt("joining", Duration::from_secs(15));
    phone.rtp.wait_prompt("alone", Duration::from_secs(15));
    phone.sip.bye(Duration::from_secs(5));
    drop(demo);
}

fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("cannot connect to the host page at {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("set a read timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send the request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read the response");
    response
}
