/**
 * What the deploy components rely on of the command provider (pulumi-resource-command, the version
 * @pulumi/command pins), checked through the real engine: small Pulumi programs run with the CLI,
 * language host and plugin of scripts/provide-engine.sh against an sshd of this test's own on
 * loopback (its own host keys of three types and its own client key, so neither the rig's hosts
 * nor their authorized keys are touched).
 *
 * The provider's behaviour modelled here, from its source (pulumi-command v1.2.1, provider/pkg/provider,
 * and pulumi-go-provider v1.3.0, which it is built on):
 *   - remote/connection.go, connectionBase.SSHConfig: `hostKey` is parsed with
 *     ssh.ParseAuthorizedKey ("<type> <base64>", as the project writes it), checked with
 *     ssh.FixedHostKey, and HostKeyAlgorithms is the key's own type only;
 *   - local/commandController.go, remote/commandController.go: Update runs `update` (else `create`)
 *     on any input change; Delete runs the *old state's* `delete`; common/inputs.go: only `triggers`
 *     is replaceOnChanges;
 *   - pulumi-go-provider infer/resource.go (ensureDefaultSecrets, markSecret): an output is secret
 *     when the input of the same name is, so `environment` and `stdin` stay secret, while `stdout`
 *     and `stderr` have no input of their name and are never made secret;
 *   - util/util.go, LogOutput: every line a command prints goes to the engine's output as it runs.
 */
import * as assert from "assert";
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { ensureRig, run, Result } from "../../testkit/rig";

const ROOT = path.resolve(__dirname, "..", "..");

/** The marker of a secret value in a stack export (sdk/go/common/resource/sig, Secret). */
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const isSecret = (v: unknown): boolean =>
    typeof v === "object" &&
    v !== null &&
    (v as Record<string, unknown>)["4dabf18193072939515e22adb298388d"] === SECRET_SIG;

function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.on("error", reject);
        srv.listen(0, "127.0.0.1", () => {
            const { port } = srv.address() as net.AddressInfo;
            srv.close(() => resolve(port));
        });
    });
}

interface Resource {
    readonly type: string;
    readonly urn: string;
    readonly inputs?: Record<string, unknown>;
    readonly outputs?: Record<string, unknown>;
}

describe("the command provider as the deploy components use it, through the real engine (e2e)", function () {
    this.timeout(300_000);
    let work: string;
    let env: NodeJS.ProcessEnv;
    let sshd: ChildProcess | undefined;
    let sshPort = 0;
    const hostKeys: Record<string, string> = {};
    let otherHostKey = "";
    let clientKey = "";
    const user = os.userInfo().username;

    /** A Pulumi project of its own (JavaScript, the project's node_modules) with a stack `test`. */
    async function project(name: string, program: string): Promise<(...args: string[]) => Promise<Result>> {
        const dir = path.join(work, name);
        fs.mkdirSync(dir);
        fs.writeFileSync(path.join(dir, "Pulumi.yaml"), `name: ${name}\nruntime: nodejs\n`);
        fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name, main: "index.js" }));
        fs.writeFileSync(path.join(dir, "index.js"), program);
        fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"));
        const pulumi = (...args: string[]) =>
            run("pulumi", ["--cwd", dir, "--non-interactive", ...args], { env });
        const init = await pulumi("stack", "init", "test", "--secrets-provider", "passphrase");
        assert.strictEqual(init.code, 0, init.stderr);
        return pulumi;
    }

    const exported = async (pulumi: (...args: string[]) => Promise<Result>) => {
        const r = await pulumi("stack", "export");
        assert.strictEqual(r.code, 0, r.stderr);
        return { text: r.stdout, resources: (JSON.parse(r.stdout).deployment.resources ?? []) as Resource[] };
    };

    /** A remote command on this test's sshd, connecting as the test's user with a given host key. */
    const remote = (name: string, hostKey: string) => `
new command.remote.Command(${JSON.stringify(name)}, {
    connection: {
        host: "127.0.0.1",
        port: ${sshPort},
        user: ${JSON.stringify(user)},
        privateKey: pulumi.secret(fs.readFileSync(${JSON.stringify(clientKey)}, "utf8")),
        hostKey: ${JSON.stringify(hostKey)},
        dialErrorLimit: 1,
        perDialTimeout: 10,
    },
    create: "echo connected",
});`;
    const header = `const pulumi = require("@pulumi/pulumi");
const command = require("@pulumi/command");
const fs = require("fs");
const config = new pulumi.Config();
`;

    before(async function () {
        this.timeout(1_200_000);
        const r = await ensureRig();
        // Not a skip: without root and Debian's sshd these tests cannot say anything, and say so.
        if (typeof r === "string") throw new Error(`the e2e tests cannot run: ${r}`);

        work = fs.mkdtempSync(path.join(os.tmpdir(), "cicd-e2e-provider-"));
        const sshDir = path.join(work, "sshd");
        fs.mkdirSync(sshDir);
        const keygen = async (file: string, type: string) => {
            const k = await run("ssh-keygen", ["-q", "-t", type, "-N", "", "-C", "", "-f", file]);
            assert.strictEqual(k.code, 0, k.stderr);
            // "<type> <base64>", as config/deploy.ts asks for (ssh-keyscan -t TYPE HOST | cut -d" " -f2-).
            return fs.readFileSync(`${file}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
        };
        for (const type of ["ed25519", "ecdsa", "rsa"])
            hostKeys[type] = await keygen(path.join(sshDir, `host_${type}`), type);
        otherHostKey = await keygen(path.join(work, "other_host_ed25519"), "ed25519");
        clientKey = path.join(work, "client_ed25519");
        fs.writeFileSync(path.join(sshDir, "authorized_keys"), `${await keygen(clientKey, "ed25519")}\n`);

        sshPort = await freePort();
        const config = [
            `Port ${sshPort}`,
            "ListenAddress 127.0.0.1",
            ...["ed25519", "ecdsa", "rsa"].map((t) => `HostKey ${path.join(sshDir, `host_${t}`)}`),
            `AuthorizedKeysFile ${path.join(sshDir, "authorized_keys")}`,
            `AllowUsers ${user}`,
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password",
            // The keys are the test's own, in its temporary directory, not in a home StrictModes guards.
            "StrictModes no",
            "UsePAM no",
        ];
        fs.writeFileSync(path.join(sshDir, "sshd_config"), `${config.join("\n")}\n`);
        sshd = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", path.join(sshDir, "sshd_config")], {
            stdio: ["ignore", "ignore", "pipe"],
        });
        let sshdLog = "";
        sshd.stderr!.on("data", (d) => (sshdLog += d));
        for (let i = 0; ; i++) {
            const up = await new Promise<boolean>((resolve) => {
                const s = net.connect(sshPort, "127.0.0.1", () => (s.destroy(), resolve(true)));
                s.on("error", () => resolve(false));
            });
            if (up) break;
            if (i > 50 || sshd.exitCode !== null)
                throw new Error(`the test's sshd did not start:\n${sshdLog}`);
            await new Promise((res) => setTimeout(res, 100));
        }

        const engine = await run(path.join(ROOT, "scripts/provide-engine.sh"), []);
        if (engine.code !== 0) throw new Error(`scripts/provide-engine.sh failed:\n${engine.stderr}`);
        const bin = engine.stdout.trim().split("\n").pop()!;
        env = {
            ...process.env,
            PATH: `${bin}:${process.env.PATH}`,
            PULUMI_BACKEND_URL: `file://${path.join(work, "state")}`,
            PULUMI_CONFIG_PASSPHRASE: "e2e",
            PULUMI_SKIP_UPDATE_CHECK: "true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        };
        fs.mkdirSync(path.join(work, "state"));
    });

    after(() => {
        sshd?.kill();
        if (work) fs.rmSync(work, { recursive: true, force: true });
    });

    it('pins a host key given as "<type> <base64>": ed25519 and ECDSA connect, another key is refused', async () => {
        const good = await project(
            "hostkey-good",
            header + remote("ed25519", hostKeys.ed25519) + remote("ecdsa", hostKeys.ecdsa),
        );
        const up = await good("up", "--yes");
        assert.strictEqual(up.code, 0, up.stdout + up.stderr);
        const { resources } = await exported(good);
        const stdout = (name: string) => resources.find((r) => r.urn.endsWith(`::${name}`))?.outputs?.stdout;
        assert.strictEqual(stdout("ed25519"), "connected");
        assert.strictEqual(stdout("ecdsa"), "connected");

        const wrong = await project("hostkey-wrong", header + remote("other", otherHostKey));
        const r = await wrong("up", "--yes");
        assert.notStrictEqual(r.code, 0, "a host presenting another key than the pinned one was trusted");
        assert.match(r.stdout, /ssh: handshake failed: ssh: host key mismatch/);
        assert.doesNotMatch(r.stdout, /connected/);
    });

    it("cannot use a pinned ssh-rsa host key: it asks for SHA-1 signatures, which OpenSSH refuses (config/deploy.ts rejects such keys)", async () => {
        const rsa = await project("hostkey-rsa", header + remote("rsa", hostKeys.rsa));
        const r = await rsa("up", "--yes");
        assert.notStrictEqual(r.code, 0);
        // The server holds this very key, and offers it with rsa-sha2-256/512 only.
        assert.match(r.stdout, /no common algorithm for host key; we offered: \["ssh-rsa"\]/);
    });

    it("runs a local command in the project's directory, so `node -` finds the project's packages (the orchestrator's zod)", async () => {
        // BlueGreenDeployment's release is `node - <args>` with the orchestrator on stdin
        // (components/deploy/orchestrator/script.ts): a script read from stdin resolves packages from
        // the working directory, which must be the project's, wherever `pulumi` itself was started.
        const workdir = await project(
            "workdir",
            `${header}
const probe = new command.local.Command("probe", {
    create: "node - --probe",
    stdin: 'process.stdout.write(JSON.stringify({ cwd: process.cwd(), zod: require.resolve("zod"), argv: process.argv.slice(2) }))',
    addPreviousOutputInEnv: false,
});
exports.probe = probe.stdout;
`,
        );
        const up = await workdir("up", "--yes");
        assert.strictEqual(up.code, 0, up.stdout + up.stderr);
        const out = await workdir("stack", "output", "probe");
        assert.strictEqual(out.code, 0, out.stderr);
        const probe = JSON.parse(out.stdout.trim()) as { cwd: string; zod: string; argv: string[] };
        assert.notStrictEqual(process.cwd(), path.join(work, "workdir"), "pulumi is started elsewhere");
        assert.strictEqual(probe.cwd, path.join(work, "workdir"));
        assert.strictEqual(probe.zod, require.resolve("zod"));
        assert.deepStrictEqual(probe.argv, ["--probe"]);
    });

    it("keeps secret environment and stdin secret in state and output; stdout is never secret and is printed", async () => {
        const quiet = "quiet-secret-4f1d8c";
        const printed = "printed-secret-9a7e2b";
        const secrets = await project(
            "secrets",
            `${header}
// As the release uses it: a secret in the environment and a script on stdin, nothing printed of either.
new command.local.Command("quiet", {
    create: 'cat >/dev/null; test -n "$TOKEN" && echo done',
    environment: { TOKEN: pulumi.secret(${JSON.stringify(quiet)}) },
    stdin: pulumi.secret(${JSON.stringify(`${quiet}-stdin\n`)}),
    addPreviousOutputInEnv: false,
});
// A command that prints its secret input.
new command.local.Command("prints", {
    create: 'printf "%s\\\\n" "$TOKEN"',
    environment: { TOKEN: pulumi.secret(${JSON.stringify(printed)}) },
    addPreviousOutputInEnv: false,
});
`,
        );
        const up = await secrets("up", "--yes");
        assert.strictEqual(up.code, 0, up.stdout + up.stderr);
        const preview = await secrets("preview", "--diff");
        assert.strictEqual(preview.code, 0, preview.stdout + preview.stderr);
        const { text, resources } = await exported(secrets);

        for (const out of [up.stdout, up.stderr, preview.stdout, preview.stderr, text])
            assert.ok(
                !out.includes(quiet),
                `a secret environment value or stdin appeared in plain text:\n${out}`,
            );
        const q = resources.find((r) => r.urn.endsWith("::quiet"))!;
        for (const props of [q.inputs!, q.outputs!]) {
            assert.ok(
                isSecret((props.environment as Record<string, unknown>).TOKEN),
                "environment.TOKEN is not secret",
            );
            assert.ok(isSecret(props.stdin), "stdin is not secret");
        }
        assert.strictEqual(q.outputs!.stdout, "done");

        // What a command prints is not protected: stdout is plain in state, and the engine's output
        // shows the line as the command runs. So the project's commands print no secret.
        const p = resources.find((r) => r.urn.endsWith("::prints"))!;
        assert.strictEqual(p.outputs!.stdout, printed);
        assert.ok(up.stdout.includes(printed), "the engine's output did not show the command's output");
    });

    it("replaces only on a triggers change: the new resource is created, then the old one's delete runs with its own inputs", async () => {
        const log = path.join(work, "replace.log");
        const replace = await project(
            "replace",
            `${header}
new command.local.Command("release", {
    create: 'echo "create $V" >> ${log}',
    update: 'echo "update $V" >> ${log}',
    delete: 'echo "delete $V" >> ${log}',
    environment: { V: config.require("v"), NOTE: config.require("note") },
    triggers: [config.require("v")],
    addPreviousOutputInEnv: false,
});
`,
        );
        const up = (v: string, note: string) =>
            replace("up", "--yes", "--config", `v=${v}`, "--config", `note=${note}`);
        assert.strictEqual((await up("1", "a")).code, 0);
        const updated = await up("1", "b");
        assert.strictEqual(updated.code, 0, updated.stdout);
        assert.match(updated.stdout, /~ 1 updated/);
        const replaced = await up("2", "b");
        assert.strictEqual(replaced.code, 0, replaced.stdout);
        assert.match(replaced.stdout, /\+-1 replaced/);
        const destroy = await replace("destroy", "--yes");
        assert.strictEqual(destroy.code, 0, destroy.stdout);
        assert.strictEqual(
            fs.readFileSync(log, "utf8"),
            "create 1\nupdate 1\ncreate 2\ndelete 1\ndelete 2\n",
        );
    });

    it("updates a remote command in place on a stdin or connection change, never running its delete (DeployHost's install)", async () => {
        const log = path.join(work, "remote.log");
        const install = await project(
            "install",
            `${header}
// As DeployHost: create = update, a delete, the tool on stdin, no triggers.
new command.remote.Command("install", {
    connection: {
        host: "127.0.0.1",
        port: ${sshPort},
        user: ${JSON.stringify(user)},
        privateKey: pulumi.secret(fs.readFileSync(${JSON.stringify(clientKey)}, "utf8")),
        hostKey: ${JSON.stringify(hostKeys.ed25519)},
        dialErrorLimit: 3,
        perDialTimeout: config.requireNumber("perDialTimeout"),
    },
    create: 'echo "install $(cat)" >> ${log}',
    update: 'echo "install $(cat)" >> ${log}',
    delete: 'echo uninstall >> ${log}',
    stdin: config.require("tool"),
    addPreviousOutputInEnv: false,
});
`,
        );
        const up = (tool: string, timeout: number) =>
            install("up", "--yes", "--config", `tool=${tool}`, "--config", `perDialTimeout=${timeout}`);
        assert.strictEqual((await up("v1", 15)).code, 0);
        const newTool = await up("v2", 15);
        assert.match(newTool.stdout, /~ 1 updated/);
        const newConnection = await up("v2", 20);
        assert.match(newConnection.stdout, /~ 1 updated/);
        assert.doesNotMatch(newTool.stdout + newConnection.stdout, /replaced/);
        assert.strictEqual(fs.readFileSync(log, "utf8"), "install v1\ninstall v2\ninstall v2\n");
        const destroy = await install("destroy", "--yes");
        assert.strictEqual(destroy.code, 0, destroy.stdout);
        assert.strictEqual(fs.readFileSync(log, "utf8"), "install v1\ninstall v2\ninstall v2\nuninstall\n");
    });
});
