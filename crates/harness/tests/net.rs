//! The network layer through the real kernel, smoltcp and the card, against servers on the
//! host's 127.0.0.1: each scenario of `net-selftest` in a process of its own. The card is the
//! one `FREERTOS_HTTPS_CARD` names (slirp by default; `scripts/test.sh` runs these tests over
//! each card).

mod common;

const SELFTEST: &str = env!("CARGO_BIN_EXE_net-selftest");

fn expect_pass(name: &str) -> String {
    common::expect_pass(SELFTEST, name)
}

#[test]
fn dhcp_from_slirp_then_a_round_trip_to_a_host_service() {
    let details = expect_pass("round_trip");
    assert!(details.contains("address 10.0.2.15/24"), "{details}");
}

#[test]
fn a_static_address_works_without_dhcp() {
    expect_pass("static_address");
}

#[test]
fn sixteen_mebibytes_each_way_arrive_intact() {
    expect_pass("bulk_16mib");
}

#[test]
fn a_closed_port_is_refused_within_a_second() {
    expect_pass("refused");
}

#[test]
fn a_silent_peer_hits_the_connect_timeout_as_configured() {
    expect_pass("connect_timeout");
}

#[test]
fn a_silent_server_hits_the_receive_timeout_as_configured() {
    expect_pass("recv_timeout");
}

#[test]
fn a_server_close_gives_the_data_then_end_of_stream() {
    expect_pass("end_of_stream");
}

#[test]
fn a_server_reset_is_an_error_not_an_end_of_stream() {
    expect_pass("reset");
}

#[test]
fn five_hundred_sequential_connections_leak_no_socket_and_no_heap() {
    expect_pass("sequential_500");
}

#[test]
fn the_card_is_served_while_a_busy_task_starves_the_idle_task() {
    let details = expect_pass("busy_device");
    assert!(details.contains("50 echoes"), "{details}");
}

#[test]
fn two_tasks_use_two_sockets_at_once() {
    expect_pass("two_tasks");
}

#[test]
#[cfg(not(feature = "freertos-plus-tcp"))]
fn dns_lookups_go_through_the_stack_to_a_fake_server() {
    expect_pass("dns_lookup");
}

/// FreeRTOS+TCP asks DNS on port 53 only, so its fake server must sit on the host's
/// 127.0.0.1:53 (the test needs root there).
#[test]
#[cfg(feature = "freertos-plus-tcp")]
fn dns_lookups_go_through_the_stack_to_a_fake_server() {
    expect_pass("dns_lookup_port_53");
}

#[test]
fn each_direction_closes_on_its_own() {
    expect_pass("half_close");
}

#[test]
#[cfg_attr(
    feature = "freertos-plus-tcp",
    ignore = "smoltcp only: it asks the forwarder with resolve_with (FreeRTOS+TCP asks only the DHCP-given server)"
)]
fn the_gateway_cards_dns_forwarder_answers_from_the_host_resolver() {
    common::expect_pass_with_env(
        SELFTEST,
        "gateway_dns_forwarder",
        &[("FREERTOS_HTTPS_CARD", "gateway")],
    );
}

#[test]
fn the_tcp_transport_tells_data_would_block_and_end_of_stream_apart() {
    let details = expect_pass("transport");
    assert_eq!(details, "data:first would-block data:second end");
}

#[test]
fn every_frame_can_be_recorded_in_a_pcap_file() {
    expect_pass("pcap");
}

#[test]
#[cfg_attr(
    feature = "freertos-plus-tcp",
    ignore = "smoltcp only: the waiter list is the smoltcp backend's"
)]
fn a_task_whose_socket_wait_timed_out_is_never_woken_afterwards() {
    expect_pass("timed_out_waiter_is_forgotten");
}
