/**
 * `bluegreen uninstall`, the command a DeployHost's delete runs (what `pulumi destroy` does on a
 * host), over real SSH against the rig's Docker Engine: it removes one instance and nothing else.
 */
import * as assert from "assert";
import { releaseArgs, ReleaseTarget, uninstallCommand } from "../../components/deploy/host-commands";
import {
    asHostUser,
    bluegreen,
    get,
    installTool,
    instanceContainers,
    onHost,
    ownImage,
    removeInstances,
    requireRig,
    resetInstance,
    Rig,
    run,
    settingsFor,
    target,
} from "../../testkit/rig";

const PREFIX = "bgun";

describe("bluegreen uninstall (integration)", function () {
    this.timeout(180_000);
    let rig: Rig;

    before(async function () {
        this.timeout(600_000);
        rig = await requireRig(this);
        await removeInstances(PREFIX);
        for (const i of ["a", "b", "d"]) await resetInstance(rig, rig.hosts[0], `${PREFIX}-${i}`);
        const installed = await installTool(rig, rig.hosts[0]);
        assert.strictEqual(installed.code, 0, installed.stderr);
    });
    after(async () => {
        if (rig) await removeInstances(PREFIX);
    });

    async function release(instance: string, port: number, version: string | ReleaseTarget): Promise<void> {
        const what = typeof version === "string" ? target(rig, version) : version;
        const r = await bluegreen(rig, rig.hosts[0], releaseArgs(what, settingsFor(rig, instance, port)));
        assert.strictEqual(r.code, 0, r.stderr);
    }

    const networkExists = async (name: string) =>
        (await run("docker", ["network", "inspect", name])).code === 0;
    /** Whether a shell line succeeds as the deploy user on the host (run by its admin, not the key). */
    const onHostOk = async (line: string) => (await asHostUser(rig, line)).code === 0;

    it("removes the instance's colours, proxy, network, images and state, and nothing of another instance", async () => {
        const a = `${PREFIX}-a`;
        const b = `${PREFIX}-b`;
        // Images of this test's own: the rig's may be in use by other instances on the machine
        // (the local stack), and docker rightly keeps an image a container uses.
        const own = {
            "1.0.0": await ownImage(rig, "uninstall-app", "1.0.0"),
            "2.0.0": await ownImage(rig, "uninstall-app", "2.0.0"),
        };
        await release(a, 18550, own["1.0.0"]);
        await release(a, 18550, own["2.0.0"]);
        await release(b, 18560, own["1.0.0"]);
        assert.strictEqual((await instanceContainers(a)).split("\n").length, 3, "blue, green and the proxy");

        const r = await onHost(rig, rig.hosts[0], uninstallCommand({ instance: a, lockTimeoutSeconds: 10 }));
        assert.strictEqual(r.code, 0, r.stderr);
        assert.match(r.stderr, new RegExp(`uninstalled instance ${a}: container ${a}-`));
        assert.match(r.stderr, /keeping \/home\/\S+\/\.local\/bin\/bluegreen: other instances keep state/);

        assert.strictEqual(await instanceContainers(a), "");
        assert.ok(!(await networkExists(`${a}-net`)), "the instance's network is gone");
        assert.ok(!(await onHostOk(`test -e .local/state/bluegreen/${a}`)), "the instance's state is gone");
        // 2.0.0 was released only by this instance; 1.0.0 still runs in the other one.
        const image = (v: keyof typeof own) => `${own[v].image}@${own[v].digest}`;
        assert.notStrictEqual((await run("docker", ["image", "inspect", image("2.0.0")])).code, 0);
        assert.strictEqual((await run("docker", ["image", "inspect", image("1.0.0")])).code, 0);

        assert.strictEqual((await get(18560, "/version")).body, "1.0.0", "the other instance still serves");
        assert.strictEqual((await instanceContainers(b)).split("\n").length, 2);
        assert.ok(await onHostOk("test -x .local/bin/bluegreen"), "the tool stays for the other instance");

        const again = await onHost(rig, rig.hosts[0], uninstallCommand({ instance: a }));
        assert.strictEqual(again.code, 0, again.stderr);
        assert.match(again.stderr, /nothing was there/);
    });

    it("leaves an instance another resource has claimed since: a host renamed in config keeps its app", async () => {
        const d = `${PREFIX}-d`;
        await release(d, 18580, "1.0.0");
        const claim = (owner: string) =>
            bluegreen(rig, rig.hosts[0], ["claim", "--instance", d, "--owner", owner]);
        // The old resource installed it; the renamed one claims it before the old one's delete runs.
        assert.strictEqual((await claim("production-web-1")).code, 0);
        assert.strictEqual((await claim("production-web-1.example.com-22")).code, 0);
        const before = await instanceContainers(d);

        const stale = await onHost(
            rig,
            rig.hosts[0],
            uninstallCommand({ instance: d, owner: "production-web-1" }),
        );
        assert.strictEqual(stale.code, 0, stale.stderr);
        assert.match(
            stale.stderr,
            /not uninstalling instance bgun-d: it belongs to production-web-1\.example\.com-22 now/,
        );
        assert.strictEqual(await instanceContainers(d), before, "nothing was removed");
        assert.strictEqual((await get(18580, "/version")).body, "1.0.0", "the app still serves");

        const owned = await onHost(
            rig,
            rig.hosts[0],
            uninstallCommand({ instance: d, owner: "production-web-1.example.com-22" }),
        );
        assert.strictEqual(owned.code, 0, owned.stderr);
        assert.strictEqual(await instanceContainers(d), "");
    });

    it("removes the tool itself once no instance keeps state on the host", async () => {
        // A copy of the tool with its own state root, so the rig's installed tool stays; run by the
        // host's admin as the deploy user (the key itself runs only the installed tool).
        const dir = `/tmp/${PREFIX}-tool`;
        const env = `XDG_STATE_HOME=${dir}/state`;
        const tool = `${dir}/bluegreen`;
        const c = `${PREFIX}-c`;
        assert.ok(await onHostOk(`rm -rf ${dir} && mkdir -p ${dir} && cp .local/bin/bluegreen ${tool}`));
        const args = releaseArgs(target(rig, "1.0.0"), settingsFor(rig, c, 18570)).join(" ");
        const released = await asHostUser(rig, `${env} ${tool} ${args}`);
        assert.strictEqual(released.code, 0, released.stderr);

        const r = await asHostUser(rig, `${env} ${tool} uninstall --instance ${c} --remove-tool`);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.match(r.stderr, /removed \/tmp\/bgun-tool\/bluegreen/);
        assert.ok(!(await onHostOk(`test -e ${tool}`)), "the tool is gone");
        assert.ok(!(await onHostOk(`test -e ${dir}/state/bluegreen`)), "the state root is gone");
        assert.strictEqual(await instanceContainers(c), "");
        await asHostUser(rig, `rm -rf ${dir}`);
    });
});
