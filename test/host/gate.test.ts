/**
 * The gate (components/deploy/host/bluegreen-gate) in front of the real tool, as sshd runs it for the
 * deploy key (`restrict,command="…/bluegreen-gate"`: the client's command in SSH_ORIGINAL_COMMAND;
 * sshd(8), AUTHORIZED_KEYS FILE FORMAT, "command="), with the tool's docker, curl, socat and flock
 * replaced by the stand-ins of test/stubs. test/unit/deploy-gate.test.ts checks the gate's word
 * filter against a tool that only echoes; the real sshd is in test/integration/restricted-key.test.ts.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { gateExitCodes, hostExitCodes } from "../../components/deploy/host-facts";
import { digest, GATE_SOURCE, Host, IMAGE, PROXY_IMAGE } from "./sandbox";

const D1 = digest("1");
const release = `bluegreen release --image ${IMAGE} --version 1.0.0 --digest ${D1} --proxy-image ${PROXY_IMAGE} --memory 256m --pids-limit 128 --public-port 8080 --health-interval-ms 1`;

describe("host tier: the gate in front of the real tool", function () {
    this.timeout(20000);
    let host: Host;
    let gate: string;
    let pins: string;

    beforeEach(() => {
        host = new Host();
        host.push(D1);
        gate = path.join(host.dir, "usr", "bin", "bluegreen-gate");
        pins = path.join(host.dir, "usr", "etc", "bluegreen", "tool-sha256");
        fs.mkdirSync(path.dirname(gate), { recursive: true });
        fs.mkdirSync(path.dirname(pins), { recursive: true });
        fs.copyFileSync(GATE_SOURCE, gate);
        const sha = crypto.createHash("sha256").update(fs.readFileSync(host.tool)).digest("hex");
        fs.writeFileSync(pins, `${sha}\n`);
    });
    afterEach(() => host.cleanup());

    function viaGate(command: string) {
        const before = host.callCount();
        const r = spawnSync("bash", [gate], {
            encoding: "utf8",
            env: host.env({ SSH_ORIGINAL_COMMAND: command }),
            cwd: host.home,
        });
        return { code: r.status, stdout: r.stdout, stderr: r.stderr, calls: host.calls().slice(before) };
    }

    it("runs a release the deploy key asks for with the pinned tool", () => {
        const r = viaGate(release);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.match(
            r.stdout.trim().split("\n").pop() ?? "",
            /"active":\{"colour":"blue","version":"1\.0\.0"/,
        );
        assert.deepStrictEqual(host.routes(), ["blue"]);
    });

    for (const [what, command, message] of [
        [
            "--state-dir (a path on the host)",
            "bluegreen status --state-dir /tmp/x",
            /option --state-dir is not allowed for bluegreen status/,
        ],
        [
            "--env-file (a file on the host)",
            `${release} --env-file /etc/shadow`,
            /option --env-file is not allowed for bluegreen release/,
        ],
        ["another program", "bash -c id", /bash is not allowed; this key only runs bluegreen/],
        ["shell syntax", "bluegreen status; id", /is not a bluegreen command/],
        ["a subcommand the tool lacks", "bluegreen exec id", /bluegreen exec is not allowed/],
    ] as const) {
        it(`refuses ${what} before the tool runs (exit ${gateExitCodes.refused})`, () => {
            const r = viaGate(command);
            assert.strictEqual(r.code, gateExitCodes.refused, r.stderr);
            assert.match(r.stderr, message);
            assert.deepStrictEqual(r.calls, []);
        });
    }

    it(`runs no tool whose sha256 the admin did not pin (exit ${gateExitCodes.unpinned})`, () => {
        fs.appendFileSync(host.tool, "\n# changed\n");
        const r = viaGate(release);
        assert.strictEqual(r.code, gateExitCodes.unpinned, r.stderr);
        assert.match(r.stderr, /this host does not allow the release tool with sha256 [0-9a-f]{64}/);
        assert.deepStrictEqual(r.calls, []);
    });

    it("leaves the values to the tool, which refuses a bad one (exit 2) before any docker call", () => {
        const r = viaGate(`${release} --lock-timeout 3601`);
        assert.strictEqual(r.code, hostExitCodes.usage, r.stderr);
        assert.match(r.stderr, /bluegreen: error: invalid lock-timeout 3601: must be 0-3600/);
        assert.deepStrictEqual(r.calls, []);
    });
});
