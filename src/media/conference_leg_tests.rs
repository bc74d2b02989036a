//! Unit tests of the conference leg: templates, start/stop bookkeeping, refused descriptions.

use super::*;

#[test]
fn templates_render_and_parse() {
    crate::media::init().expect("GStreamer is installed on the build machine");
    let send = send_description(16000, 42, OpusSettings::default()).unwrap();
    assert!(
        send.contains("ssrc=(uint)42") && !send.contains('#'),
        "{send}"
    );
    gst::parse::launch(&send).expect("send description parses");
    let recv = recv_description(16000).unwrap();
    gst::parse::bin_from_description(&recv, true).expect("receive description parses");
}

#[test]
fn the_encoder_follows_the_admins_opus_settings() {
    let (tx, _rx) = mpsc::channel(8);
    let config = ConferenceLegConfig {
        opus: OpusSettings {
            complexity: 3,
            dtx: true,
        },
        ..ConferenceLegConfig::default()
    };
    let leg = ConferenceLeg::start(config, tx).unwrap();
    let element = |factory: &str| {
        leg.pipeline()
            .iterate_elements()
            .into_iter()
            .flatten()
            .find(|e| e.factory().is_some_and(|f| f.name() == factory))
            .unwrap_or_else(|| panic!("the send pipeline has no {factory}"))
    };
    let encoder = element("opusenc");
    assert_eq!(encoder.property::<i32>("complexity"), 3);
    assert!(encoder.property::<bool>("dtx"));
    assert!(
        element("rtpopuspay").property::<bool>("dtx"),
        "the payloader drops the encoder's silence frames"
    );
}

#[test]
fn start_checks_rate_and_stop_releases_the_pipeline() {
    let (tx, _rx) = mpsc::channel(8);
    let bad = ConferenceLegConfig {
        audio_rate: 44100,
        ..ConferenceLegConfig::default()
    };
    assert!(matches!(
        ConferenceLeg::start(bad, tx.clone()),
        Err(ConferenceLegError::UnsupportedRate(44100))
    ));
    let leg = ConferenceLeg::start(ConferenceLegConfig::default(), tx).unwrap();
    leg.push_phone_audio(&[0; 160]);
    let mut out = [1i16; 160];
    leg.pull_room_audio(&mut out);
    assert_eq!(out, [0; 160], "no peers: silence");
    assert!(leg.remote_description("x", SdpKind::Offer, "v=0").is_err());
    leg.remote_candidate("x", 0, "candidate:1 1 UDP 1 10.0.0.1 9 typ host");
    leg.remove_peer("x");
    assert_eq!(leg.peer_count(), 0);
    leg.stop();
}

#[test]
fn refuses_descriptions_that_do_not_fit() {
    let (tx, _rx) = mpsc::channel(8);
    let leg = ConferenceLeg::start(ConferenceLegConfig::default(), tx).unwrap();
    let send_chain = leg.pipeline().children().len();
    leg.add_peer("answerer", false).unwrap();
    leg.add_peer("offerer", true).unwrap();
    assert!(matches!(
        leg.add_peer("offerer", false),
        Err(ConferenceLegError::DuplicatePeer(_))
    ));
    let pcmu = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=rtpmap:0 PCMU/8000\r\n";
    let err = leg
        .remote_description("answerer", SdpKind::Offer, pcmu)
        .unwrap_err();
    assert!(matches!(err, ConferenceLegError::BadSdp { .. }), "{err}");
    let err = leg
        .remote_description("answerer", SdpKind::Answer, pcmu)
        .unwrap_err();
    assert!(
        matches!(err, ConferenceLegError::UnexpectedDescription { .. }),
        "{err}"
    );
    let opus = "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n";
    let err = leg
        .remote_description("answerer", SdpKind::Offer, opus)
        .unwrap_err();
    assert!(
        matches!(err, ConferenceLegError::BadSdp { .. }),
        "not an SDP: {err}"
    );
    let offer = format!("v=0\r\n{opus}");
    let err = leg
        .remote_description("offerer", SdpKind::Offer, &offer)
        .unwrap_err();
    assert!(
        matches!(err, ConferenceLegError::UnexpectedDescription { .. }),
        "{err}"
    );
    assert_eq!(leg.peer_count(), 2);
    leg.remove_peer("answerer");
    leg.remove_peer("offerer");
    assert_eq!(
        leg.pipeline().children().len(),
        send_chain,
        "only the send chain is left"
    );
}
