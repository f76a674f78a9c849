/**
 * The commands the BlueGreenDeployment component declares, run for real: the component is built
 * under Pulumi mocks (there is no engine here), and each declared command is then executed the way
 * @pulumi/command would: the remote install over SSH with its stdin, the local release with its
 * stdin and environment, through /bin/sh -c.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { BlueGreenDeployment } from "../../components/deploy/blue-green-deployment";
import { parseSummary } from "../../components/deploy/orchestrator/summary";
import { outputPromise, promiseOf, RecordingMocks } from "../../testkit/mocks";
import {
    get,
    onHost,
    removeInstances,
    requireRig,
    resetInstance,
    Rig,
    run,
    settingsFor,
    target,
} from "../../testkit/rig";

const INSTANCE = "bgpl";
const PORT = 18500;

describe("BlueGreenDeployment's declared commands, run for real (integration)", function () {
    this.timeout(180_000);
    let rig: Rig;

    before(async function () {
        this.timeout(600_000);
        rig = await requireRig(this);
        await removeInstances(INSTANCE);
        await resetInstance(rig, rig.hosts[0], INSTANCE);
    });
    after(async () => {
        if (rig) await removeInstances(INSTANCE);
    });

    /** Declares the component for one version and returns the commands it declared. */
    async function declared(version: string) {
        const mocks = new RecordingMocks();
        await pulumi.runtime.setMocks(mocks, "cicd-pipeline", "integration", false);
        const key = fs.readFileSync(rig.privateKeyFile, "utf8");
        const dep = new BlueGreenDeployment("it", {
            hosts: [rig.hosts[0]],
            user: rig.user,
            privateKey: pulumi.secret(key),
            image: rig.appImage,
            version,
            digest: target(rig, version).digest,
            resolveDigest: false,
            settings: settingsFor(rig, INSTANCE, PORT),
        });
        await promiseOf(dep.urn);
        await outputPromise(dep.digest);
        await new Promise((r) => setTimeout(r, 200));
        const [install] = mocks.ofType("command:remote:Command");
        const [release] = mocks.ofType("command:local:Command");
        return { install, release, key };
    }

    async function apply(version: string) {
        const { install, release, key } = await declared(version);
        const conn = install.inputs.connection as { host: string; port: number; hostKey: string };
        assert.strictEqual(conn.hostKey, rig.hosts[0].hostKey);
        const installed = await onHost(rig, rig.hosts[0], String(install.inputs.create), {
            input: String(install.inputs.stdin),
        });
        assert.strictEqual(installed.code, 0, installed.stderr);
        const env = release.inputs.environment as Record<string, string>;
        assert.strictEqual(env.BLUEGREEN_SSH_KEY, key);
        return run("/bin/sh", ["-c", String(release.inputs.create)], {
            input: String(release.inputs.stdin),
            env: { ...process.env, ...env },
        });
    }

    it("the declared install and release commands release the version and report it per host", async () => {
        const r = await apply("1.0.0");
        assert.strictEqual(r.code, 0, r.stderr);
        const summary = parseSummary(r.stdout);
        assert.deepStrictEqual(summary.hosts, {
            // A first release starts the blue colour.
            [rig.hosts[0].name]: { version: "1.0.0", digest: rig.appDigests["1.0.0"], colour: "blue" },
        });
        assert.strictEqual((await get(PORT, "/version")).body, "1.0.0");
    });

    it("a release that fails on the host fails the declared command with the host's message", async () => {
        const r = await apply("4.0.0-smokefail");
        // The host tool's exit code passes through: 6, smoke test failed (switched back).
        assert.strictEqual(r.code, 6, r.stderr);
        assert.match(
            r.stderr,
            /release-hosts: error: release of 4\.0\.0-smokefail failed on host-a: smoke test of 4\.0\.0-smokefail failed/,
        );
        assert.strictEqual((await get(PORT, "/version")).body, "1.0.0");
    });
});
