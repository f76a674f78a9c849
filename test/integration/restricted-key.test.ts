/**
 * The deploy key on a real sshd, restricted as scripts/host-setup.sh sets a host up:
 * `restrict,command="/usr/local/bin/bluegreen-gate"` in authorized_keys. The rig's sshd allows TCP
 * forwarding server-wide (as a stock sshd does), so whatever is refused here is refused by the key's
 * restriction and the gate, not by the server's configuration.
 */
import * as assert from "assert";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { releaseArgs, TOOL_SOURCE } from "../../components/deploy/host-commands";
import {
    asHostUser,
    bluegreen,
    get,
    hostHome,
    installTool,
    onHost,
    removeInstances,
    requireRig,
    resetInstance,
    Rig,
    run,
    settingsFor,
    sshArgs,
    target,
    toolPath,
} from "../../testkit/rig";

const INSTANCE = "bgrk";
const PORT = 18590;
const ROOT = path.resolve(__dirname, "..", "..");

describe("the deploy key can only run the release tool (integration)", function () {
    this.timeout(120_000);
    let rig: Rig;
    let marker: string;

    before(async function () {
        this.timeout(600_000);
        rig = await requireRig(this);
        await removeInstances(INSTANCE);
        await resetInstance(rig, rig.hosts[0], INSTANCE);
        const installed = await installTool(rig, rig.hosts[0]);
        assert.strictEqual(installed.code, 0, installed.stderr);
        marker = path.join(os.tmpdir(), `bluegreen-restricted-${process.pid}`);
    });
    beforeEach(() => fs.rmSync(marker, { force: true }));
    after(async () => {
        if (rig) await removeInstances(INSTANCE);
        if (marker) fs.rmSync(marker, { force: true });
    });

    const ssh = (...args: string[]) => run("ssh", [...sshArgs(rig, rig.hosts[0]), ...args]);

    it("the rig's authorized_keys holds exactly the restricted line host-setup.sh prints", async () => {
        const line = await run("bash", [
            path.join(ROOT, "scripts/host-setup.sh"),
            "--user",
            rig.user,
            "--public-key",
            `${rig.privateKeyFile}.pub`,
            "--print-line",
        ]);
        assert.strictEqual(line.code, 0, line.stderr);
        assert.match(line.stdout, /^restrict,command="\/usr\/local\/bin\/bluegreen-gate" ssh-ed25519 \S+ /);
        const keys = fs.readFileSync(path.join(hostHome(rig), ".ssh/authorized_keys"), "utf8");
        assert.strictEqual(keys, line.stdout);
        const owner = fs.statSync(path.join(hostHome(rig), ".ssh/authorized_keys")).uid;
        assert.strictEqual(owner, 0, "authorized_keys belongs to root: the deploy user cannot change it");
    });

    for (const [what, command] of [
        ["a shell command", `touch MARKER`],
        ["a command list", `bluegreen status; touch MARKER`],
        ["a command substitution in an argument", `bluegreen status --instance $(touch MARKER)`],
        ["a quoted argument", `bluegreen status --instance 'x' && touch MARKER`],
        ["a newline", `bluegreen status\ntouch MARKER`],
        ["another program", `sh -c touch\\ MARKER`],
    ] as const) {
        it(`refuses ${what}, and runs nothing`, async () => {
            const r = await ssh("--", command.replace("MARKER", marker));
            assert.strictEqual(r.code, 11, r.stderr);
            assert.match(r.stderr, /bluegreen-gate: refused: /);
            assert.ok(!fs.existsSync(marker), "the command ran");
        });
    }

    it("refuses a login shell, and a terminal", async () => {
        const login = await run("ssh", sshArgs(rig, rig.hosts[0]), { input: `touch ${marker}\n` });
        assert.strictEqual(login.code, 11, login.stderr);
        assert.match(
            login.stderr,
            /refused: this key only runs the release tool \(bluegreen\); it has no shell/,
        );
        const tty = await run("ssh", ["-tt", ...sshArgs(rig, rig.hosts[0])], { input: `touch ${marker}\n` });
        assert.notStrictEqual(tty.code, 0);
        assert.match(tty.stdout + tty.stderr, /PTY allocation request failed/);
        assert.ok(!fs.existsSync(marker));
    });

    for (const legacy of [false, true]) {
        it(`refuses scp${legacy ? " -O (the scp protocol)" : " (the SFTP protocol)"}: no file arrives`, async () => {
            const local = path.join(os.tmpdir(), `bluegreen-scp-${process.pid}`);
            fs.writeFileSync(local, "payload\n");
            const h = rig.hosts[0];
            const args = sshArgs(rig, h);
            // scp takes the same options; the destination is user@address:path.
            const options = args.slice(0, args.indexOf("-p")).concat(["-P", String(h.port)]);
            const r = await run("scp", [
                ...(legacy ? ["-O"] : []),
                ...options,
                local,
                `${rig.user}@${h.address}:${marker}`,
            ]);
            fs.rmSync(local);
            assert.notStrictEqual(r.code, 0, r.stderr);
            assert.ok(!fs.existsSync(marker), "scp wrote the file");
        });
    }

    it("refuses port forwarding, local and remote, though the server allows it", async () => {
        // -W: a direct-tcpip channel to the registry, as -L would open for each connection.
        const request = "GET /v2/ HTTP/1.0\r\n\r\n";
        const local = await run("ssh", ["-W", "127.0.0.1:5555", ...sshArgs(rig, rig.hosts[0])], {
            input: request,
        });
        assert.notStrictEqual(local.code, 0);
        assert.match(local.stderr, /stdio forwarding failed/);
        assert.doesNotMatch(local.stdout, /HTTP\/1\.[01] 200/);
        const remote = await ssh(
            "-o",
            "ExitOnForwardFailure=yes",
            "-N",
            "-R",
            "127.0.0.1:18599:127.0.0.1:22",
        );
        assert.notStrictEqual(remote.code, 0);
        assert.match(remote.stderr, /remote port forwarding failed/);

        // Control: the same sshd forwards for a key without the restriction.
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-control-"));
        const keys = path.join(hostHome(rig), ".ssh/authorized_keys");
        const saved = fs.readFileSync(keys);
        try {
            assert.strictEqual(
                (await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", `${dir}/key`])).code,
                0,
            );
            fs.appendFileSync(keys, fs.readFileSync(`${dir}/key.pub`));
            const args = sshArgs(rig, rig.hosts[0]);
            args[args.indexOf("-i") + 1] = `${dir}/key`;
            const control = await run("ssh", ["-W", "127.0.0.1:5555", ...args], { input: request });
            assert.match(
                control.stdout,
                /^HTTP\/1\.[01] 200/,
                `the control key could not forward: ${control.stderr}`,
            );
        } finally {
            fs.writeFileSync(keys, saved);
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    for (const [what, argv, message] of [
        [
            "a state directory elsewhere",
            ["status", "--state-dir", "/tmp"],
            /option --state-dir is not allowed for bluegreen status/,
        ],
        [
            "an env file from the host",
            ["release", "--env-file", "/etc/passwd"],
            /option --env-file is not allowed/,
        ],
        ["an unknown subcommand", ["rm", "-rf", "/"], /bluegreen rm is not allowed/],
        [
            "an option of another subcommand",
            ["status", "--remove-tool"],
            /option --remove-tool is not allowed for bluegreen status/,
        ],
        ["an option without its value", ["status", "--instance"], /option --instance needs a value/],
    ] as const) {
        it(`refuses the tool with ${what}`, async () => {
            const r = await ssh("--", ["bluegreen", ...argv].join(" "));
            assert.strictEqual(r.code, 11, r.stderr);
            assert.match(r.stderr, message);
        });
    }

    it("a value the gate lets through is still checked by the tool", async () => {
        const r = await bluegreen(rig, rig.hosts[0], ["status", "--instance", "UPPER"]);
        assert.strictEqual(r.code, 2, r.stderr);
        assert.match(r.stderr, /invalid instance UPPER/);
    });

    it("installs only a tool whose sha256 the host's admin pinned", async () => {
        const before = fs.readFileSync(toolPath(rig));
        const other = `${fs.readFileSync(TOOL_SOURCE, "utf8")}\n# changed\n`;
        const sha = crypto.createHash("sha256").update(other).digest("hex");
        const r = await onHost(rig, rig.hosts[0], "bluegreen install", { input: other });
        assert.strictEqual(r.code, 12, r.stderr);
        assert.match(
            r.stderr,
            new RegExp(
                `does not allow the release tool with sha256 ${sha}.*echo ${sha} >> /usr/local/etc/bluegreen/tool-sha256`,
            ),
        );
        assert.deepStrictEqual(fs.readFileSync(toolPath(rig)), before, "the installed tool is unchanged");
    });

    it("runs no installed tool whose sha256 is not pinned (changed on the host by other means)", async () => {
        assert.strictEqual((await asHostUser(rig, `echo '# changed' >> .local/bin/bluegreen`)).code, 0);
        try {
            const r = await bluegreen(rig, rig.hosts[0], ["status", "--instance", INSTANCE]);
            assert.strictEqual(r.code, 12, r.stderr);
            assert.match(r.stderr, /does not allow the release tool with sha256 [a-f0-9]{64}/);
        } finally {
            const reinstalled = await installTool(rig, rig.hosts[0]);
            assert.strictEqual(reinstalled.code, 0, reinstalled.stderr);
        }
    });

    it("releases, reports and uninstalls through the gate", async () => {
        const s = settingsFor(rig, INSTANCE, PORT);
        const released = await bluegreen(rig, rig.hosts[0], releaseArgs(target(rig, "1.0.0"), s));
        assert.strictEqual(released.code, 0, released.stderr);
        assert.strictEqual((await get(PORT, "/version")).body, "1.0.0");
        const status = await bluegreen(rig, rig.hosts[0], ["status", "--instance", INSTANCE]);
        assert.strictEqual(status.code, 0, status.stderr);
        assert.strictEqual(JSON.parse(status.stdout.trim()).version, "1.0.0");
        const history = await bluegreen(rig, rig.hosts[0], [
            "history",
            "--instance",
            INSTANCE,
            "--last",
            "5",
        ]);
        assert.strictEqual(history.code, 0, history.stderr);
        const removed = await bluegreen(rig, rig.hosts[0], [
            "uninstall",
            "--instance",
            INSTANCE,
            "--lock-timeout",
            "10",
        ]);
        assert.strictEqual(removed.code, 0, removed.stderr);
        assert.match(removed.stderr, new RegExp(`uninstalled instance ${INSTANCE}: container`));
    });
});
