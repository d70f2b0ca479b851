#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""`userdata run` as a runner: decoding (gzip, MIME, directives), once-per-frequency, the re-run of a
script cut off by a crash, timeouts, StopOnFailure, clear refusals, and no secret outside the
0600 logs and the 0700 state."""
import base64
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("KK_SOURCE_ROOT", ""), "tests", "imds"))
import kktest  # noqa: E402
from udtest import UserDataCase, gz, mime  # noqa: E402

MENU = """default 0
timeout 0
title Debian GNU/Linux, kernel 6.1.0-26-amd64
root (hd0,0)
kernel /boot/vmlinuz-6.1.0-26-amd64 root=/dev/xvda1 ro
title Debian GNU/Linux, kernel 6.1.0-25-amd64
root (hd0,0)
kernel /boot/vmlinuz-6.1.0-25-amd64 root=/dev/xvda1 ro
"""
CANARY = "kk-canary-7f3a9c1e5b"


class Runner(UserDataCase):
    def test_plain_script_runs_once_per_instance(self):
        self.serve(self.script("a"))
        self.run_ok()
        self.run_ok()
        self.assertEqual(self.trace("trace"), ["a"])
        run = next(iter(self.runs().values()))
        self.assertEqual((run["status"], run["frequency"], run["exit_status"], run["attempts"]),
                         ("success", "per-instance", 0, 1))
        for k in ("started", "ended", "scope"):
            self.assertIn(k, run)

    def test_gzip(self):
        self.serve(gz(self.script("zipped")))
        self.run_ok()
        self.assertEqual(self.trace("trace"), ["zipped"])
        self.assertTrue(self.state()["userdata"]["gzip"])

    def test_gzip_bomb_refused(self):
        self.serve(gz(b"#!/bin/sh\n" + b"\n" * (2 * 1024 * 1024)))
        p = self.userdata("run", check=1)
        self.assertIn("inflates to more than 1048576 bytes", p.stderr)

    def test_mime_mixed_frequencies(self):
        ud = mime(("text/x-shellscript", self.script("default")),
                  ("text/x-shellscript-per-boot", self.script("boot")),
                  ("text/cloud-config", "#cloud-config\npackages: [htop]\n"),
                  ("text/x-shellscript-per-instance", self.script("instance")),
                  ("text/x-shellscript-per-once", self.script("once")))
        self.serve(gz(ud))
        p = self.run_ok()
        self.assertEqual(self.trace("trace"), ["default", "boot", "instance", "once"], "in order")
        self.assertIn("part 3 (text/cloud-config", p.stderr)
        self.assertIn("skipped", p.stderr)
        self.run_ok()
        self.assertEqual(len(self.trace("trace")), 4, "nothing again in the same boot")

        self.set_boot_id("6f1b6a6e-0d0c-4f3e-9a53-000000000002")
        self.run_ok()
        self.assertEqual(self.trace("trace")[4:], ["boot"], "a new boot: per-boot only")

        self.srv.configure(instance_id="i-0fedcba9876543210")
        self.run_ok()
        self.assertEqual(self.trace("trace")[5:], ["default", "instance"], "a new instance: per-instance only")
        self.set_boot_id("6f1b6a6e-0d0c-4f3e-9a53-000000000003")
        self.srv.configure(instance_id="i-0aaaaaaaaaaaaaaaa")
        self.run_ok()
        self.assertEqual(self.trace("trace")[7:], ["default", "boot", "instance"], "once is once ever")

    def test_per_instance_reruns_on_new_instance_id(self):
        self.serve(self.script("a"))
        self.run_ok()
        self.srv.configure(instance_id="i-0fedcba9876543210")
        self.run_ok()
        self.run_ok()
        self.assertEqual(self.trace("trace"), ["a", "a"])
        logs = sorted(os.listdir(self.t.path("/var/log/kernelkeeper")))
        self.assertEqual(logs, ["userdata-i-0123456789abcdef0-1.log", "userdata-i-0fedcba9876543210-1.log"])

    def test_per_boot_reruns_on_new_boot_id(self):
        self.serve(mime(("text/x-shellscript-per-boot", self.script("b"))))
        self.run_ok()
        self.run_ok()
        self.set_boot_id("6f1b6a6e-0d0c-4f3e-9a53-0000000000ff")
        self.run_ok()
        self.assertEqual(self.trace("trace"), ["b", "b"])

    def start_runner(self):
        env = dict(os.environ)
        env.pop("JOURNAL_STREAM", None)
        env.pop("INVOCATION_ID", None)
        return subprocess.Popen([kktest.BINARY, "--root", self.t.root, "userdata", "run", "--metadata-url",
                                 self.srv.url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)

    def crash_during_script(self, expect_runs):
        runner = self.start_runner()
        deadline = time.monotonic() + 20
        while len(self.trace("trace")) < expect_runs and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(len(self.trace("trace")), expect_runs, "the script started")
        runner.kill()  # SIGKILL: no chance to record anything
        runner.communicate()
        pgid = int(open(os.path.join(self.out, "pid")).read())
        os.killpg(pgid, signal.SIGKILL)  # the script lives on in its own session, like after a crash

    def test_crash_during_script_reruns_once_then_fails(self):
        body = f"echo $$ > {self.out}/pid\nexec sleep 60"
        self.serve(mime(("text/x-shellscript", self.script("slow", body)),
                        ("text/x-shellscript", self.script("after"))))
        self.crash_during_script(1)
        run = next(r for r in self.runs().values() if r["index"] == 1)
        self.assertEqual((run["status"], run["attempts"]), ("started", 1), "marker written before running")

        self.crash_during_script(2)
        run = next(r for r in self.runs().values() if r["index"] == 1)
        self.assertEqual((run["status"], run["attempts"]), ("started", 2))

        p = self.userdata("run", check=1)
        self.assertIn("cut off 2 times", p.stderr)
        self.assertEqual(self.trace("trace"), ["slow", "slow", "after"], "not run a third time; later parts run")
        run = next(r for r in self.runs().values() if r["index"] == 1)
        self.assertEqual(run["status"], "failed")
        self.userdata("run", check=0)
        self.assertEqual(len(self.trace("trace")), 3)

    def test_timeout_kills_the_process_group(self):
        self.configure(script_timeout=1)
        body = f"sleep 60 &\necho $! > {self.out}/bg\nsleep 60"
        self.serve(self.script("t", body))
        start = time.monotonic()
        self.userdata("run", check=1)
        self.assertLess(time.monotonic() - start, 10)
        bg = int(open(os.path.join(self.out, "bg")).read())
        time.sleep(0.2)
        alive = os.path.exists(f"/proc/{bg}") and "State:\tZ" not in open(f"/proc/{bg}/status").read()
        self.assertFalse(alive, "the background child was killed too")
        run = next(iter(self.runs().values()))
        self.assertEqual(run["status"], "timeout")

    def test_failure_does_not_stop_later_parts_unless_configured(self):
        ud = mime(("text/x-shellscript", self.script("bad", "exit 3")), ("text/x-shellscript", self.script("good")))
        self.serve(ud)
        self.userdata("run", check=1)
        self.assertEqual(self.trace("trace"), ["bad", "good"])
        self.assertEqual(sorted(r["exit_status"] for r in self.runs().values()), [0, 3])

    def test_stop_on_failure(self):
        self.configure(userdata_extra="StopOnFailure=yes")
        ud = mime(("text/x-shellscript", self.script("bad", "exit 3")), ("text/x-shellscript", self.script("good")))
        self.serve(ud)
        p = self.userdata("run", check=1)
        self.assertEqual(self.trace("trace"), ["bad"])
        self.assertIn("StopOnFailure=yes", p.stderr)
        self.assertEqual(sorted(r["status"] for r in self.runs().values()), ["failed", "skipped"])

    def test_environment_is_clean(self):
        self.serve(self.script("env", f"env > {self.out}/env"))
        self.userdata("run", check=0, env={"AWS_SECRET_ACCESS_KEY": "leak", "http_proxy": "http://127.0.0.1:9"})
        env = dict(line.split("=", 1) for line in open(os.path.join(self.out, "env")).read().splitlines())
        self.assertEqual(env["HOME"], "/root")
        self.assertEqual(env["LANG"], "C.UTF-8")
        self.assertIn("/usr/bin", env["PATH"])
        self.assertNotIn("AWS_SECRET_ACCESS_KEY", env)
        self.assertNotIn("http_proxy", env)

    def test_malformed_mime_refused(self):
        ud = mime(("text/x-shellscript", self.script("a"))).replace(b"--==BOUNDARY==--\n", b"")
        self.serve(ud)
        p = self.userdata("run", check=1)
        self.assertIn("Refusing the user data", p.stderr)
        self.assertIn("closing MIME boundary is missing", p.stderr)
        self.assertEqual(self.trace("trace"), [])
        self.assertIn("closing MIME boundary", self.state()["userdata"]["error"])

    def test_mime_without_boundary_refused(self):
        self.serve(b"Content-Type: multipart/mixed\nMIME-Version: 1.0\n\n--x\n\n#!/bin/sh\n--x--\n")
        p = self.userdata("run", check=1)
        self.assertIn("multipart without a boundary parameter", p.stderr)

    def test_shellscript_part_without_interpreter_refused(self):
        self.serve(mime(("text/x-shellscript", "echo no shebang"), ("text/x-shellscript", self.script("a"))))
        p = self.userdata("run", check=1)
        self.assertIn("MIME part 1: a text/x-shellscript part must start with #!", p.stderr)
        self.assertEqual(self.trace("trace"), [], "nothing of refused user data runs")

    def test_malformed_directive_refused(self):
        self.serve('#kernelkeeper\n{"pin": {"default": "release=6.1.0-25-amd64",}}\n')
        p = self.userdata("run", check=1)
        self.assertRegex(p.stderr, r"directive line 2 column \d+: invalid JSON")
        self.serve('#kernelkeeper\n{"pin": {"default": "release=6.1.0-25-amd64", "fallbak": []}}\n')
        p = self.userdata("run", check=1)
        self.assertIn('key 2 of "pin" is unknown (known: default, fallback)', p.stderr)
        self.assertNotIn("fallbak", p.stderr, "not even a key is quoted")
        self.serve(mime(("text/plain", '#kernelkeeper {"pinn": {}}')))
        p = self.userdata("run", check=1)
        self.assertIn('MIME part 1: directive: key 1 of the object is unknown (known: pin, modules, kernel)', p.stderr)

    def test_directive_pins(self):
        self.t.menu(MENU)
        self.t.kernels("/boot/vmlinuz-6.1.0-26-amd64", "/boot/vmlinuz-6.1.0-25-amd64")
        d = {"pin": {"default": "release=6.1.0-25-amd64", "fallback": ["release=6.1.0-26-amd64"]}}
        self.serve(mime(("text/x-shellscript", self.script("a")), ("text/plain", "#kernelkeeper\n" + json.dumps(d))))
        self.run_ok()
        menu = self.t.read("/boot/grub/menu.lst").decode()
        self.assertIn("default 1", menu.replace("\t", " "))
        st = self.state()
        self.assertEqual(st["pin"]["default"], "release=6.1.0-25-amd64")
        self.assertEqual(st["pin"]["fallback"], ["release=6.1.0-26-amd64"])
        self.assertEqual(sorted(r["status"] for r in st["userdata"]["runs"].values()), ["success", "success"])
        p = kktest.run(self.t, "status", "--json", check=0)
        self.assertEqual(json.loads(p.stdout)["pin"]["default"], "release=6.1.0-25-amd64")

    def test_canary_only_in_private_files(self):
        self.configure(userdata_extra="HandOffCloudConfig=no")
        secret_b64 = base64.b64encode(f"#!/bin/sh\necho b64 {CANARY}\n".encode()).decode()
        ud = mime(("text/x-shellscript", self.script("a", f"echo password={CANARY}\necho {CANARY} >&2")),
                  ("text/cloud-config", f"#cloud-config\npassword: {CANARY}\n"))
        ud = ud.replace(b"--==BOUNDARY==--\n",
                        b"--==BOUNDARY==\nContent-Type: text/x-shellscript\nContent-Transfer-Encoding: base64\n\n" +
                        secret_b64.encode() + b"\n--==BOUNDARY==--\n")
        self.serve(ud)
        outputs = [self.run_ok()]
        outputs.append(self.userdata("show", check=0))
        outputs.append(self.userdata("show", "--json", check=0))
        outputs.append(kktest.run(self.t, "--json", "userdata", "show", check=0))
        for p in outputs:
            self.assertNotIn(CANARY, p.stdout + p.stderr)
        self.assertIn("sha256", outputs[1].stdout)

        logdir = self.t.path("/var/log/kernelkeeper")
        self.assertEqual(stat.S_IMODE(os.stat(logdir).st_mode), 0o700)
        self.assertEqual(stat.S_IMODE(os.stat(self.t.path("/var/lib/kernelkeeper")).st_mode), 0o700)
        found = []
        for d, _, files in os.walk(self.t.root):
            for f in files:
                p = os.path.join(d, f)
                if CANARY.encode() in open(p, "rb").read():
                    found.append(p)
        self.assertTrue(found, "the script did print it")
        for p in found:
            self.assertEqual(os.path.dirname(p), logdir, p)
            self.assertEqual(stat.S_IMODE(os.stat(p).st_mode), 0o600, p)
        self.assertNotIn(CANARY, self.t.read("/var/lib/kernelkeeper/state.json").decode())

    def test_scripts_inherit_no_descriptors(self):
        """Only 0-2 cross into a script (it is executed by the path of its sealed copy), though the runner holds the
        kept-alive connection to the metadata service (and its lock, log, pipe) while it runs."""
        body = (f"ls -l /proc/self/fd > {self.out}/fds\n"
                # the runner's own descriptors, as the script's parent: each must be close-on-exec
                f"for f in /proc/$PPID/fdinfo/*; do n=${{f##*/}}; "
                f"echo \"$n $(readlink /proc/$PPID/fd/$n) $(sed -n 's/^flags:[[:space:]]*//p' $f)\"; "
                f"done > {self.out}/parent\n")
        self.serve(self.script("fds", body))
        self.run_ok()
        fds = {}
        for line in open(os.path.join(self.out, "fds")).read().splitlines():
            if " -> " in line:
                name, target = line.split(" -> ", 1)
                fds[int(name.split()[-1])] = target
        own_dir = [n for n, t in fds.items() if re.fullmatch(r"/proc/\d+/fd", t)]  # ls reading the list
        self.assertEqual(sorted(fds), sorted([0, 1, 2] + own_dir), fds)
        self.assertEqual(len(own_dir), 1, fds)

        parent = [line.split() for line in open(os.path.join(self.out, "parent")).read().splitlines()]
        self.assertTrue(any(t.startswith("socket:") for _, t, _ in parent), f"a connection is open: {parent}")
        for n, target, flags in parent:
            if int(n) > 2:
                self.assertTrue(int(flags, 8) & 0o2000000, f"runner fd {n} ({target}) is not close-on-exec")

    def test_script_has_a_real_path_as_dollar_zero(self):
        """$0 is a sealed copy of the part (0500 in 0700 directories, like cloud-init's
        /var/lib/cloud/instance/scripts/part-001), so `dirname "$0"` works; gone after the run."""
        body = (f'echo "$0" > {self.out}/zero\n'
                f'ls -ld "$(dirname "$0")" "$(dirname "$(dirname "$0")")" > {self.out}/dirs\n'
                f'stat -c %a "$0" > {self.out}/mode\n'
                f'cat "$0" > {self.out}/text\n')
        text = self.script("zero", body)
        self.serve(text)
        self.run_ok()
        zero = open(os.path.join(self.out, "zero")).read().strip()
        self.assertEqual(zero, self.t.path("/run/kernelkeeper-userdata/i-0123456789abcdef0/part-1"))
        self.assertEqual(open(os.path.join(self.out, "text")).read(), text)
        self.assertEqual(open(os.path.join(self.out, "mode")).read().strip(), "500")
        for line in open(os.path.join(self.out, "dirs")).read().splitlines():
            self.assertTrue(line.startswith("drwx------"), line)
        self.assertFalse(os.path.exists(zero), "the copy is removed after the run")
        self.assertEqual(self.trace("trace"), ["zero"])

    def test_scripts_run_from_a_noexec_run(self):
        """Debian's initramfs mounts /run noexec: the interpreter named by the #! line (with its one
        optional argument, as Linux splits it) is started on the copy, which it only reads."""
        if subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode != 0:
            self.skipTest("unshare -rm (a user + mount namespace) is not available here")
        ud = mime(("text/x-shellscript", self.script("plain", f'echo "$0" > {self.out}/zero')),
                  ("text/x-shellscript", self.script("with-arg", 'false\necho "not reached: -e was lost"',
                                                     shebang="#!/bin/sh -e  ")),
                  ("text/x-shellscript", self.script("env", "", shebang="#! /usr/bin/env sh")))
        self.serve(ud)
        run = self.t.path("/run")
        os.makedirs(run, exist_ok=True)
        env = dict(os.environ)
        env.pop("JOURNAL_STREAM", None)
        env.pop("INVOCATION_ID", None)
        p = subprocess.run(["unshare", "-rm", "sh", "-c", 'mount -t tmpfs -o noexec,nosuid,nodev tmpfs "$1" && '
                            'shift && exec "$@"', "sh", run, kktest.BINARY, "--root", self.t.root,
                            "userdata", "run", "--metadata-url", self.srv.url],
                           capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(self.trace("trace"), ["plain", "with-arg", "env"], p.stderr)
        self.assertEqual(sorted((r["status"], r["exit_status"]) for r in self.runs().values()),
                         [("failed", 1), ("success", 0), ("success", 0)], p.stderr)
        self.assertIn("/run/kernelkeeper-userdata/", open(os.path.join(self.out, "zero")).read())

    def test_directive_selector_never_quoted(self):
        """A selector that matches nothing: the part and the problem are named, the selector (user
        data) is in no output, log line or file."""
        self.t.menu(MENU)
        self.t.kernels("/boot/vmlinuz-6.1.0-26-amd64", "/boot/vmlinuz-6.1.0-25-amd64")
        d = {"pin": {"default": f"release={CANARY}"}}
        self.serve(mime(("text/x-shellscript", self.script("a")), ("text/plain", "#kernelkeeper\n" + json.dumps(d))))
        outputs = [self.userdata("run", check=1)]
        p = outputs[0]
        self.assertRegex(p.stderr, r"User-data part 2 \(text/x-kernelkeeper-directive, per-instance, sha256 [0-9a-f]{12}\) "
                                   r"failed: the pin's default selector matches no entry of \S*/boot/grub/menu.lst\n")
        self.assertNotIn("could not pin", p.stderr)
        run = next(r for r in self.runs().values() if r["index"] == 2)
        self.assertEqual(run["status"], "failed")
        self.assertRegex(run["note"], r"^part 2 \(text/x-kernelkeeper-directive, sha256 [0-9a-f]{12}\): the pin's default "
                                      r"selector matches no entry of ")
        outputs += [self.userdata("show", check=0), kktest.run(self.t, "--json", "userdata", "show", check=0),
                    kktest.run(self.t, "status", check=None)]
        self.assertIn("the pin's default selector matches no entry", outputs[1].stdout)
        for p in outputs:
            self.assertNotIn(CANARY, p.stdout + p.stderr)
        self.assertNotIn("pin", self.state(), "nothing pinned")
        for d, _, files in os.walk(self.t.root):
            for f in files:
                self.assertNotIn(CANARY.encode(), open(os.path.join(d, f), "rb").read(), os.path.join(d, f))

        # a fallback that is the default itself, and one that matches nothing: named by place
        d = {"pin": {"default": "release=6.1.0-25-amd64", "fallback": [f"{CANARY}", "release=6.1.0-25-amd64"]}}
        self.serve(mime(("text/plain", "#kernelkeeper\n" + json.dumps(d))))
        p = self.userdata("run", check=1)
        self.assertIn("failed: the pin's fallback 1 selector matches no entry of", p.stderr)
        self.assertNotIn(CANARY, p.stderr)
        d = {"pin": {"default": "release=6.1.0-25-amd64", "fallback": ["release=6.1.0-25-amd64"]}}
        self.serve(mime(("text/plain", "#kernelkeeper\n" + json.dumps(d))))
        p = self.userdata("run", check=1)
        self.assertIn("failed: the pin's fallback 1 selector is the pinned default itself", p.stderr)
        self.assertNotIn("release=", p.stderr)

    def test_cloud_config_left_to_cloud_init_when_enabled(self):
        self.t.write("/usr/bin/cloud-init", "#!/bin/sh\n", mode=0o755)
        self.serve(mime(("text/cloud-config", "#cloud-config\n{}\n")))
        p = self.run_ok()
        self.assertIn("left to cloud-init", p.stderr)
        self.t.write("/etc/cloud/cloud-init.disabled", "")
        p = self.run_ok()
        self.assertIn("cloud-init is not installed or is disabled", p.stderr)

    def test_show_json_lists_parts_without_bodies(self):
        self.serve(mime(("text/x-shellscript-per-boot", self.script("a")), ("text/cloud-config", "#cloud-config\n")))
        self.run_ok()
        j = json.loads(kktest.run(self.t, "--json", "userdata", "show", check=0).stdout)
        self.assertEqual([p["type"] for p in j["parts"]], ["text/x-shellscript-per-boot", "text/cloud-config"])
        self.assertEqual(j["parts"][0]["run"]["status"], "success")
        self.assertEqual(len(j["parts"][0]["sha256"]), 64)
        self.assertNotIn("run", j["parts"][1])
        self.assertNotIn("data", j["parts"][0])

    def test_one_runner_at_a_time(self):
        self.serve(self.script("slow", f"echo $$ > {self.out}/pid\nsleep 3"))
        runner = self.start_runner()
        deadline = time.monotonic() + 20
        while not self.trace("trace") and time.monotonic() < deadline:
            time.sleep(0.05)
        p = self.userdata("run", check=None)
        runner.communicate()
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("in progress", p.stderr)
        self.assertEqual(self.trace("trace"), ["slow"])


if __name__ == "__main__":
    kktest.main()
