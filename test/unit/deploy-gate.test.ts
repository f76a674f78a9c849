/**
 * The host's gate (components/deploy/host/bluegreen-gate), run by bash as sshd runs a forced command:
 * the client's command in SSH_ORIGINAL_COMMAND, in the deploy user's home. Here the installed "tool"
 * is a stand-in that prints the arguments it was given, pinned by its sha256 next to a copy of the
 * gate (DIR/bin/bluegreen-gate reads DIR/etc/bluegreen/tool-sha256). The real sshd, tool and
 * restrict are exercised in test/integration/restricted-key.test.ts.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
    GATE_SOURCE,
    gateCommand,
    HostReleaseSettings,
    installCommand,
    releaseArgs,
    TOOL_PATH,
    TOOL_SOURCE,
    uninstallCommand,
} from "../../components/deploy/host-commands";

const ROOT = path.resolve(__dirname, "..", "..");
const stub = `#!/usr/bin/env bash\nprintf 'ran:'; printf ' %s' "$@"; echo\n`;
const sha = (text: string | Buffer) => crypto.createHash("sha256").update(text).digest("hex");

const settings: HostReleaseSettings = {
    instance: "web",
    bind: "127.0.0.1",
    publicPort: 80,
    appPort: 8000,
    bluePort: 18001,
    greenPort: 18002,
    proxyImage: `haproxy:2.6@sha256:${"c".repeat(64)}`,
    health: { path: "/health", successes: 3, intervalMs: 500, timeoutSeconds: 60 },
    smokePaths: ["/health", "/version"],
    keepReleases: 20,
    lockTimeoutSeconds: 120,
    limits: { memory: "512m", pids: 512 },
};
const target = { image: "docker.io/acme/web-app", version: "1.4.2", digest: `sha256:${"a".repeat(64)}` };

describe("deploy: the host's gate", () => {
    let dir: string;
    let home: string;

    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "gate-"));
        home = path.join(dir, "home");
        fs.mkdirSync(path.join(dir, "bin"));
        fs.mkdirSync(path.join(dir, "etc", "bluegreen"), { recursive: true });
        fs.mkdirSync(path.join(home, ".local", "bin"), { recursive: true });
        fs.copyFileSync(GATE_SOURCE, path.join(dir, "bin", "bluegreen-gate"));
        fs.writeFileSync(path.join(home, TOOL_PATH), stub, { mode: 0o755 });
        fs.writeFileSync(path.join(dir, "etc", "bluegreen", "tool-sha256"), `# pinned\n${sha(stub)}\n`);
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    function gate(command: string | undefined, input = "") {
        const env: NodeJS.ProcessEnv = { PATH: "/usr/bin:/bin", HOME: home };
        if (command !== undefined) env.SSH_ORIGINAL_COMMAND = command;
        const r = spawnSync("bash", [path.join(dir, "bin", "bluegreen-gate")], {
            encoding: "utf8",
            env,
            cwd: home,
            input,
        });
        return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    }

    it("passes every command the program builds to the tool, word for word", () => {
        const argvs = [
            releaseArgs(target, settings),
            [...releaseArgs(target, settings), "--fresh"],
            ["status", "--instance", "web"],
            ["history", "--instance", "web", "--last", "1000"],
            ["claim", "--instance", "web", "--owner", "production-web-1.example.com-22"],
        ];
        for (const argv of argvs) {
            const r = gate(gateCommand(argv));
            assert.strictEqual(r.code, 0, r.stderr);
            assert.strictEqual(r.stdout, `ran: ${argv.join(" ")}\n`);
        }
        const uninstall = gate(uninstallCommand({ instance: "web", lockTimeoutSeconds: 45, owner: "o" }));
        assert.strictEqual(
            uninstall.stdout,
            "ran: uninstall --instance web --lock-timeout 45 --owner o --drain-timeout 30 --stop-timeout 10 --remove-tool\n",
        );
    });

    it("refuses anything else before running the tool", () => {
        for (const [command, message] of [
            [undefined, /it has no shell/],
            ["id", /"?id"? is not allowed; this key only runs bluegreen/],
            ["bluegreen status; id", /is not a bluegreen command/],
            ["bluegreen  status", /is not a bluegreen command/],
            ["bluegreen status --state-dir /tmp", /--state-dir is not allowed/],
            ["bluegreen release --env-file /etc/passwd", /--env-file is not allowed/],
            ["bluegreen exec id", /bluegreen exec is not allowed/],
            ["bluegreen status --instance", /needs a value/],
        ] as const) {
            const r = gate(command);
            assert.strictEqual(r.code, 11, `${command}: ${r.stderr}`);
            assert.match(r.stderr, message);
            assert.strictEqual(r.stdout, "", `${command} ran the tool`);
        }
    });

    it("installs a pinned tool from stdin, claims the instance, and prints its sha256", () => {
        fs.rmSync(path.join(home, TOOL_PATH));
        const r = gate(installCommand({ instance: "web", owner: "me" }), stub);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.strictEqual(r.stdout, `${sha(stub)}\n`, "the claim's own output is not mixed in");
        assert.strictEqual(fs.readFileSync(path.join(home, TOOL_PATH), "utf8"), stub);
        assert.strictEqual(fs.statSync(path.join(home, TOOL_PATH)).mode & 0o777, 0o755);
    });

    it("installs no tool whose sha256 is not pinned, and runs none", () => {
        const other = `${stub}# another tool\n`;
        const r = gate(installCommand(), other);
        assert.strictEqual(r.code, 12, r.stderr);
        assert.match(r.stderr, new RegExp(`sha256 ${sha(other)}.*echo ${sha(other)} >> `));
        assert.strictEqual(fs.readFileSync(path.join(home, TOOL_PATH), "utf8"), stub, "unchanged");
        fs.appendFileSync(path.join(home, TOOL_PATH), "echo tampered\n");
        const run = gate("bluegreen status");
        assert.strictEqual(run.code, 12, run.stderr);
        assert.strictEqual(run.stdout, "");
    });

    it("uninstall where no tool is installed does nothing, successfully", () => {
        fs.rmSync(path.join(home, TOOL_PATH));
        const r = gate(uninstallCommand({ instance: "web" }));
        assert.strictEqual(r.code, 0, r.stderr);
        assert.match(r.stderr, /not installed here: nothing to uninstall/);
    });

    it("host-setup.sh installs this gate and pins this checkout's tool", () => {
        const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "host-setup-"));
        const blob = "AAAAC3NzaC1lZDI1NTE5AAAAIE6PDoBaDmwCK9yWpAJYzVN7H/hylh+VMjx7Bh0WdrSZ";
        fs.writeFileSync(path.join(keyDir, "key.pub"), `ssh-ed25519 ${blob} someone@laptop\n`);
        const setup = (...args: string[]) =>
            spawnSync("bash", [path.join(ROOT, "scripts/host-setup.sh"), ...args], { encoding: "utf8" });
        const r = setup("--user", "deploy", "--public-key", path.join(keyDir, "key.pub"));
        assert.strictEqual(r.status, 0, r.stderr);
        assert.ok(r.stdout.includes(fs.readFileSync(GATE_SOURCE, "utf8")), "the gate is embedded verbatim");
        assert.ok(
            r.stdout.includes(`printf '%s\\n' '${sha(fs.readFileSync(TOOL_SOURCE))}' >>`),
            "the tool's sha256 is pinned",
        );
        assert.ok(
            r.stdout.includes(
                `'restrict,command="/usr/local/bin/bluegreen-gate" ssh-ed25519 ${blob} bluegreen-deploy'`,
            ),
        );
        assert.strictEqual(
            spawnSync("bash", ["-n"], { input: r.stdout }).status,
            0,
            "the setup is valid bash",
        );
        const bad = setup("--user", "deploy;id", "--public-key", path.join(keyDir, "key.pub"));
        assert.strictEqual(bad.status, 2);
        assert.match(bad.stderr, /--user must be a Unix user name/);
        fs.writeFileSync(path.join(keyDir, "key.pub"), "-----BEGIN OPENSSH PRIVATE KEY-----\n");
        const priv = setup("--user", "deploy", "--public-key", path.join(keyDir, "key.pub"));
        assert.strictEqual(priv.status, 2);
        assert.match(priv.stderr, /is not an OpenSSH public key/);
        fs.rmSync(keyDir, { recursive: true });
    });
});
