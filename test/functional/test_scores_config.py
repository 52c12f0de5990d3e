"""Site overrides of scores, group caps and composites through local.d/, and
the tutorial's Lua rule, end to end through the real daemon."""
import json

from conftest import TUTORIAL_RULE
from test_scan_protocol import HAM, checkv2

NO_MID = HAM.replace(b"Message-ID: <m1@example.org>\r\n", b"")
VIAGRA = HAM.replace(b"Subject: lunch tomorrow", b"Subject: cheap viagra")



def test_local_groups_override_weight_and_cap(daemon_factory):
    d = daemon_factory(extra_local={
        "groups.conf": 'group "headers" { symbols { MISSING_MID { weight = 4.5; } } }\n',
    }).start()
    sym = json.loads(checkv2(d, NO_MID)[1])["symbols"]["MISSING_MID"]
    assert sym["metric_score"] == 4.5 and sym["score"] == 4.5


def test_local_composite(daemon_factory):
    d = daemon_factory(extra_local={
        "composites.conf": 'NO_MID_HAS_DN { expression = "MISSING_MID & FROM_HAS_DN"; score = 3.0; }\n',
    }).start()
    syms = json.loads(checkv2(d, NO_MID)[1])["symbols"]
    assert syms["NO_MID_HAS_DN"]["score"] == 3.0
    assert "MISSING_MID" not in syms and "FROM_HAS_DN" not in syms
    assert "NO_MID_HAS_DN" not in json.loads(checkv2(d, HAM)[1])["symbols"]


def test_tutorial_lua_rule_verbatim(daemon_factory):
    d = daemon_factory(extra_local={"local.lua": TUTORIAL_RULE}).start()
    syms = json.loads(checkv2(d, VIAGRA)[1])["symbols"]
    assert syms["MY_RULE"]["score"] == 5.0
    assert syms["MY_RULE"]["description"] == "Contains suspicious keyword"
    assert "MY_RULE" not in json.loads(checkv2(d, HAM)[1])["symbols"]


def test_broken_lua_file_refuses_to_start(daemon_factory):
    import os
    import subprocess
    from conftest import BIN
    d = daemon_factory(extra_local={"local.lua": "rspamd_config.X = {\n  callback = \n"})
    p = subprocess.run([os.path.join(BIN, "rspamd"), "-f", "-c", d.conf, "--state-dir", d.state],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "local.lua:" in p.stderr


def test_time_budget_skips_remaining_rules_and_says_so(daemon_factory):
    slow = ("rspamd_config:register_symbol{ name = 'SLOW_PREFILTER', type = 'prefilter',\n"
            "  callback = function(task)\n"
            "    local util = require 'rspamd_util'\n"
            "    local t0 = util.get_time()\n"
            "    while util.get_time() - t0 < 1.3 do end\n"
            "  end }\n")
    d = daemon_factory(extra_local={"options.inc": "task_timeout = 1s;\n",
                                    "local.lua": slow}).start()
    j = json.loads(checkv2(d, NO_MID)[1])
    assert "TASK_TIMEOUT" in j["symbols"]
    assert "rules skipped" in j["symbols"]["TASK_TIMEOUT"]["options"][0]
    assert "MISSING_MID" not in j["symbols"]
