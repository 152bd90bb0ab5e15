// SPDX-License-Identifier: MIT
/* `openhv run --nic` values: tap and switch NICs, MAC, VLAN, MAC spoofing flag. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "cli/run_devices.h"
#include "t.h"

static struct vm_nic_config nic;
static char buf[256];

static int parse(const char *s)
{
	snprintf(buf, sizeof(buf), "%s", s);
	return run_parse_nic(buf, &nic);
}

static void test_switch_nic(void)
{
	T_ASSERT_EQ(parse("switch=lab"), 0);
	T_EXPECT_STREQ(nic.switch_name, "lab");
	T_EXPECT(nic.tap == NULL);
	T_EXPECT_EQ(nic.tap_fd, -1);
	T_EXPECT(!nic.allow_mac_spoofing); /* protection on by default */
	T_EXPECT(!nic.has_mac);
	T_ASSERT_EQ(parse("switch=lab,mac=02:6f:68:00:00:01,vlan=20,allow-mac-spoofing"), 0);
	T_EXPECT_EQ(nic.vlan, 20);
	T_EXPECT(nic.has_mac && nic.mac[5] == 1);
	T_EXPECT(nic.allow_mac_spoofing);
}

static void test_tap_nic(void)
{
	T_ASSERT_EQ(parse("tap=tap0,vlan=4094"), 0);
	T_EXPECT_STREQ(nic.tap, "tap0");
	T_EXPECT_EQ(nic.vlan, 4094);
	T_EXPECT(!nic.allow_mac_spoofing);
	T_ASSERT_EQ(parse("tap=tap0,allow-mac-spoofing"), 0);
	T_EXPECT(nic.allow_mac_spoofing);
}

static void test_refused(void)
{
	static const char *const bad[] = {
		"", "switch=", "switch=../etc", "switch=toolongname12", "switch=1a",
		"tap=t0,switch=lab", "mac=02:00:00:00:00:01", "switch=lab,vlan=0",
		"switch=lab,vlan=4095", "switch=lab,mac=01:00:00:00:00:01", "switch=lab,spoof",
		"switch=lab,colour=red", "allow-mac-spoofing",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		T_EXPECT_EQ(parse(bad[i]), -EINVAL);
}

static void test_open_without_switch_ports(void)
{
	struct vm_nic_config n[1];

	/* tap= NICs need no switch state and are left alone. */
	T_ASSERT_EQ(parse("tap=tap0"), 0);
	n[0] = nic;
	T_EXPECT_EQ(run_nics_open(n, 1, "/nonexistent-ohv-state"), 0);
	T_EXPECT_EQ(n[0].tap_fd, -1);
	T_EXPECT(!n[0].has_mac);
	/* A switch that does not exist: one line, nothing opened. */
	T_ASSERT_EQ(parse("switch=nosuch"), 0);
	n[0] = nic;
	T_EXPECT_EQ(run_nics_open(n, 1, "/nonexistent-ohv-state"), -EINVAL);
	T_EXPECT_EQ(n[0].tap_fd, -1);
	run_nics_close();
}

static const struct t_case cases[] = {
	T_CASE(test_switch_nic),
	T_CASE(test_tap_nic),
	T_CASE(test_refused),
	T_CASE(test_open_without_switch_ports),
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return t_main(argc, argv, cases);
}
