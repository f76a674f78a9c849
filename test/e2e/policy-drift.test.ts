/**
 * The policy pack and the hosts' drift check through the real Pulumi engine on the local stack.
 *
 * In a temporary copy of the project (node_modules linked) with its own state directory, whose
 * stack releases its own instance on its own ports (18910-18912, metrics on 18915), like local-stack.test.ts:
 *
 * 1. `pulumi preview --policy-pack policy` of the stack as committed: exit 0, the pack ran;
 * 2. a copy whose host has no pinned key and which passes the deploy key on as plain text:
 *    `pulumi preview --policy-pack policy` exits non-zero with both policies' messages;
 * 3. scripts/drift.sh local: no drift; a host released to 2.0.0 by hand (the orchestrator run
 *    outside Pulumi, as someone with the deploy key would): reported; released again by
 *    `pulumi up --replace` of the release: none.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { releaseHosts } from "../../components/deploy/orchestrator/release";
import { SshTransport } from "../../components/deploy/orchestrator/ssh";
import { planOf } from "../../scripts/drift";
import { copyLocalStack } from "../../testkit/local-stack";
import { ensureRig, instanceContainers, Rig, run, Result } from "../../testkit/rig";

const ROOT = path.resolve(__dirname, "..", "..");
const PORT = 18910;
const INSTANCE = "policy";
const RELEASE_URN =
    "urn:pulumi:local::cicd-pipeline::cicd:deploy:BlueGreenDeployment$command:local:Command::local-release";

describe("the policy pack and drift detection through the real Pulumi engine (e2e)", function () {
    this.timeout(600_000);
    let rig: Rig;
    let work: string;
    let env: NodeJS.ProcessEnv;
    const sh = async (label: string, file: string, args: string[]): Promise<Result> => {
        const started = Date.now();
        const r = await run(path.join(work, file), args, { env });
        console.log(`      ${label}: ${((Date.now() - started) / 1000).toFixed(1)}s, exit ${r.code}`);
        return r;
    };
    const pulumi = (label: string, ...args: string[]) => sh(label, "scripts/local-pulumi.sh", args);

    before(async function () {
        this.timeout(1_200_000);
        const r = await ensureRig();
        if (typeof r === "string") throw new Error(`the e2e tests cannot run: ${r}`);
        rig = r;
        assert.strictEqual(
            await instanceContainers(INSTANCE),
            "",
            `the host already runs instance ${INSTANCE}`,
        );
        ({ project: work, env } = copyLocalStack(ROOT, "cicd-policy-", INSTANCE, PORT));
        const up = await sh("scripts/local-up.sh 1.0.0", "scripts/local-up.sh", ["1.0.0"]);
        assert.strictEqual(up.code, 0, up.stderr + up.stdout);
    });

    after(async function () {
        this.timeout(300_000);
        if (!work) return;
        for (const f of ["components/deploy/deploy-host.ts", "index.ts"]) {
            fs.copyFileSync(path.join(ROOT, f), path.join(work, f));
        }
        if ((await instanceContainers(INSTANCE)) !== "") await pulumi("pulumi destroy", "destroy", "--yes");
        fs.rmSync(path.dirname(work), { recursive: true, force: true });
    });

    it("the stack as committed passes the policy pack", async () => {
        const r = await pulumi("preview --policy-pack policy", "preview", "--policy-pack", "policy");
        assert.strictEqual(r.code, 0, r.stdout + r.stderr);
        assert.match(r.stdout, /Policies:\s+✅ cicd-pipeline@v0\.1\.0 \(local: policy\)/);
    });

    it("a host without a pinned key and a plaintext secret fail the preview with the policies' messages", async () => {
        const hostFile = path.join(work, "components/deploy/deploy-host.ts");
        const pinned = fs.readFileSync(hostFile, "utf8");
        assert.ok(pinned.includes("hostKey: host.hostKey,"));
        fs.writeFileSync(hostFile, pinned.replace("hostKey: host.hostKey,", ""));
        fs.appendFileSync(
            path.join(work, "index.ts"),
            [
                "",
                'import * as command from "@pulumi/command";',
                'new command.local.Command("leak", {',
                '    create: "true",',
                '    environment: { KEY_COPY: pulumi.unsecret(new pulumi.Config().requireSecret("deploySshKey")) },',
                "});",
                "",
            ].join("\n"),
        );
        const r = await pulumi(
            "preview --policy-pack policy (violations)",
            "preview",
            "--policy-pack",
            "policy",
        );
        const policyLines = r.stdout.slice(r.stdout.indexOf("Policies:"));
        console.log(policyLines.replace(/^/gm, "        "));
        assert.notStrictEqual(r.code, 0);
        assert.match(r.stdout, /❌ cicd-pipeline@v0\.1\.0 \(local: policy\)/);
        assert.match(
            r.stdout,
            /\[mandatory\]\s+deploy-host-key-pinned[\s\S]*command:remote:Command "local-127\.0\.0\.1-2222-install" connects to 127\.0\.0\.1:2222 without a pinned host key/,
        );
        assert.match(
            r.stdout,
            /\[mandatory\]\s+no-plaintext-secrets[\s\S]*command:local:Command "leak" has the value of the secret config key cicd-pipeline:deploySshKey in its plain input environment\.KEY_COPY/,
        );
        for (const f of ["components/deploy/deploy-host.ts", "index.ts"]) {
            fs.copyFileSync(path.join(ROOT, f), path.join(work, f));
        }
    });

    it("scripts/drift.sh reports a host switched by hand, and nothing once released again", async () => {
        const clean = await sh("drift.sh local", "scripts/drift.sh", ["local"]);
        assert.strictEqual(clean.code, 0, clean.stdout + clean.stderr);
        assert.match(clean.stdout, /no drift: 1 host\(s\) serve what stack local released/);

        // By hand: the orchestrator, outside Pulumi, with the deploy key, releases 2.0.0.
        const config = JSON.parse((await pulumi("config --json", "config", "--json")).stdout);
        const plan = planOf("local", config);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "drift-hand-"));
        try {
            const transport = new SshTransport({
                user: plan.user,
                keyFile: rig.privateKeyFile,
                hosts: plan.hosts,
                workDir: dir,
                connectTimeout: 10,
                env: process.env,
            });
            const summary = await releaseHosts(
                { ...plan, target: { ...plan.target, version: "2.0.0", digest: rig.appDigests["2.0.0"] } },
                transport,
                () => undefined,
            );
            assert.strictEqual(summary.version, "2.0.0");
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }

        const drifted = await sh("drift.sh local (after the switch by hand)", "scripts/drift.sh", ["local"]);
        console.log(drifted.stdout.replace(/^/gm, "        "));
        assert.strictEqual(drifted.code, 1, drifted.stdout + drifted.stderr);
        assert.match(
            drifted.stdout,
            new RegExp(
                `DRIFT local: serves 2\\.0\\.0 \\(${rig.appDigests["2.0.0"]}\\) on green; the stack released 1\\.0\\.0`,
            ),
        );
        assert.match(drifted.stdout, /DRIFT local: serves from green; the stack's release left blue serving/);

        const again = await pulumi(
            "up --replace the release",
            "up",
            "--yes",
            "--skip-preview",
            "--replace",
            RELEASE_URN,
        );
        assert.strictEqual(again.code, 0, again.stdout + again.stderr);
        const none = await sh("drift.sh local (released again)", "scripts/drift.sh", ["local"]);
        assert.strictEqual(none.code, 0, none.stdout + none.stderr);
        assert.match(none.stdout, /no drift/);
    });
});
