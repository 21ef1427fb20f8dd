"""All ten ports charging at once on the constrained heap (96 K words, as on an ESP32 without PSRAM)."""


def test_ten_ports_charge_without_memory_error(make_rig):
    rig = make_rig(PILE_MAX_W=6000)
    for port in range(1, 11):
        rig.plug(port, "tricycle" if port % 4 == 0 else "ebike", soc=0.1)
        rig.pay_coins(port, 1)
    rig.wait_until(lambda: all(rig.relay(p) for p in range(1, 11)), 10, "all ten relays on")
    scans_before = rig.records("health")[-1]["scans"] if rig.records("health") else 0
    rig.hold(8, lambda: all(rig.relay(p) for p in range(1, 11)), "all ten ports charging")
    ports = rig.records("ports")[-1]["ports"]
    assert [state for state, *_ in ports] == ["charging"] * 10
    assert rig.display()[0].startswith("CCCCCCCCCC")
    assert not [line for line in rig.pile.vm.text_lines if "MemoryError" in line]
    assert rig.records("health")[-1]["scans"] > scans_before + 20  # the meter loop kept running
