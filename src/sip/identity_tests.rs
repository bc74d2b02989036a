//! Unit tests of caller identity: From and P-Asserted-Identity parsing, hostile input, masking.

use super::*;

fn id(name: Option<&str>, number: Option<&str>) -> CallerId {
    CallerId {
        display_name: name.map(str::to_string),
        number: number.map(str::to_string),
    }
}

#[test]
fn from_with_quoted_name_and_tag() {
    let c = caller_id("\"Alice\" <sip:+4930123489@host>;tag=x", None);
    assert_eq!(c, id(Some("Alice"), Some("+4930123489")));
}

#[test]
fn uri_forms() {
    assert_eq!(
        caller_id("Bob Smith <sips:bob@host:5061;transport=tls>", None),
        id(Some("Bob Smith"), Some("bob"))
    );
    assert_eq!(
        caller_id("<tel:+4930123;phone-context=x>;tag=1", None),
        id(None, Some("+4930123"))
    );
    assert_eq!(
        caller_id("sip:0301234@h;tag=1", None),
        id(None, Some("0301234"))
    );
    assert_eq!(
        caller_id("<SIP:user:secret@h>", None),
        id(None, Some("user"))
    );
    assert_eq!(
        caller_id("<sip:+49301;npdi@h;user=phone>", None),
        id(None, Some("+49301"))
    );
    assert_eq!(
        caller_id("<sip:%2B4930123@h>", None),
        id(None, Some("+4930123"))
    );
    assert_eq!(caller_id("<sip:host.example>", None), id(None, None));
    assert_eq!(caller_id("<mailto:a@b>", None), id(None, None));
}

#[test]
fn quoted_name_escapes() {
    let c = caller_id(r#""Dr. \"Who\", \\ Esq" <sip:1@h>"#, None);
    assert_eq!(c.display_name.as_deref(), Some(r#"Dr. "Who", \ Esq"#));
}

#[test]
fn pai_wins_over_from() {
    let from = "\"Alice\" <sip:alice@pbx>;tag=1";
    let c = caller_id(from, Some("<sip:+4930999@carrier>"));
    assert_eq!(c, id(Some("Alice"), Some("+4930999")));
    let c = caller_id(from, Some("\"Carrier Name\" <tel:+4930999>"));
    assert_eq!(c.display_name.as_deref(), Some("Carrier Name"));
    // Several values: the first with a number counts, commas inside quotes don't split.
    let c = caller_id(from, Some("\"X, Y\" <sip:pbx.example>, <tel:+4930888>"));
    assert_eq!(c, id(Some("Alice"), Some("+4930888")));
    // A useless PAI falls back to From.
    assert_eq!(
        caller_id(from, Some("garbage")),
        id(Some("Alice"), Some("alice"))
    );
}

#[test]
fn anonymous_is_none() {
    let c = caller_id(
        "\"Anonymous\" <sip:anonymous@anonymous.invalid>;tag=1",
        None,
    );
    assert_eq!(c, CallerId::default());
    assert_eq!(c.display(true, 2), "Anonymous");
    assert_eq!(
        caller_id("Unknown <sip:RESTRICTED@h>", None),
        CallerId::default()
    );
    assert_eq!(caller_id("", None), CallerId::default());
}

#[test]
fn hostile_input() {
    let long = format!(
        "\"{}\" <sip:{}@h>",
        "A".repeat(100_000),
        "9".repeat(100_000)
    );
    let c = caller_id(&long, Some(&"<,".repeat(50_000)));
    assert_eq!(c.display_name.unwrap().chars().count(), MAX_NAME_CHARS);
    assert_eq!(c.number.as_ref().unwrap().len(), MAX_NUMBER_CHARS);
    // Missing '>' and missing closing quote.
    assert_eq!(
        caller_id("\"Eve\" <sip:+4930555@h;tag=1", None),
        id(Some("Eve"), Some("+4930555"))
    );
    assert_eq!(
        caller_id("\"Eve <sip:123@h>", None),
        id(Some("Eve"), Some("123"))
    );
    assert_eq!(caller_id("\"Eve", None), CallerId::default());
    // Unicode, bidi overrides and control characters.
    let c = caller_id(
        "\"J\u{202E}ürgen\u{0}\r\n 日本\" <sip:%E2%80%AE%00123@h>",
        None,
    );
    assert_eq!(c, id(Some("Jürgen 日本"), Some("123")));
    for junk in [
        "<",
        ">",
        "\"",
        "\\",
        ":@;",
        "<sip:@>",
        "<tel:>",
        "<sip:%>",
        "<sip:%F@h>",
        "ü<ö>",
    ] {
        let c = caller_id(junk, Some(junk));
        let _ = c.display(true, 2);
        let _ = c.display(false, usize::MAX);
    }
}

#[test]
fn mask_examples() {
    assert_eq!(mask_number("+493012345689", 2), "+49 30 ••• 89");
    assert_eq!(mask_number("004930 1234-5689", 2), "+49 30 ••• 89");
    assert_eq!(mask_number("+14155552671", 2), "+1 415 ••• 71");
    assert_eq!(mask_number("+79161234567", 2), "+7 91 ••• 67");
    assert_eq!(mask_number("+353861234567", 2), "+353 86 ••• 67");
    assert_eq!(mask_number("+353861234567", 3), "+353 8 ••• 567");
    assert_eq!(mask_number("+420601123456", 2), "+420 60 ••• 56");
    assert_eq!(mask_number("+33612345678", 0), "+33 61 •••");
    assert_eq!(mask_number("03012345689", 2), "030 ••• 89");
}

#[test]
fn mask_short_and_junk() {
    assert_eq!(mask_number("1234", 2), "••• 34");
    assert_eq!(mask_number("1234", 10), "••• 34");
    assert_eq!(mask_number("7", 2), "•••");
    assert_eq!(mask_number("+49", 2), "+49 •••");
    assert_eq!(mask_number("+", 2), "•••");
    assert_eq!(mask_number("", 2), "•••");
    assert_eq!(mask_number("alice", 2), "•••");
    assert_eq!(mask_number("+49 (30) 123-456-89", 2), "+49 30 ••• 89");
    assert_eq!(mask_number("٣٣٣", 2), "•••");
    // At least half stays hidden, whatever the tail asks for.
    assert_eq!(mask_number("+493012345689", 9), "+49 ••• 45689");
    assert_eq!(
        mask_number(&"5".repeat(10_000), usize::MAX).len(),
        5_000 + MASK.len() + 1
    );
}

#[test]
fn display_forms() {
    let alice = id(Some("Alice"), Some("+493012345689"));
    assert_eq!(alice.display(true, 2), "Alice (+49 30 ••• 89)");
    assert_eq!(alice.display(false, 2), "Alice (+493012345689)");
    assert_eq!(
        id(None, Some("+493012345689")).display(true, 2),
        "+49 30 ••• 89"
    );
    assert_eq!(id(Some("Alice"), None).display(true, 2), "Alice");
    assert_eq!(id(Some("Alice"), Some("alice")).display(false, 2), "alice");
}

#[test]
fn display_name_that_is_a_number_does_not_leak() {
    let c = caller_id("\"+49 30 12345689\" <sip:+493012345689@h>", None);
    assert_eq!(c.display(true, 2), "+49 30 ••• 89");
    assert_eq!(c.display(false, 2), "+493012345689");
    assert_eq!(
        id(Some("030 1234 5689"), None).display(true, 2),
        "030 ••• 89"
    );
    assert_eq!(
        id(Some("Room 4711"), Some("+493012345689")).display(true, 2),
        "+49 30 ••• 89"
    );
    assert_eq!(
        id(Some("Room 4711"), Some("+493012345689")).display(false, 2),
        "Room 4711 (+493012345689)"
    );
}
