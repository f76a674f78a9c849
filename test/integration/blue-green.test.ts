/**
 * The host tool against real software: sshd with a pinned host key, Docker Engine, a registry and
 * HAProxy, all on loopback. Each scenario uses its own tool instance (containers, ports, state).
 */
import * as assert from "assert";
import autocannon from "autocannon";
import * as fs from "fs";
import {
    bluegreen,
    get,
    history,
    inspect,
    asHostUser,
    installTool,
    onHost,
    ownImage,
    removeInstances,
    requireRig,
    resetInstance,
    Rig,
    run,
    settingsFor,
    sleep,
    sshArgs,
    status,
    target,
} from "../../testkit/rig";
import {
    commandLine,
    HostReleaseSettings,
    HostTarget,
    releaseArgs,
    ReleaseTarget,
    TOOL_PATH,
} from "../../components/deploy/host-commands";

const PREFIX = "bgit";

describe("blue-green release on a real host (integration)", function () {
    this.timeout(180_000);
    let rig: Rig;
    let host: HostTarget;

    before(async function () {
        this.timeout(600_000);
        rig = await requireRig(this);
        host = rig.hosts[0];
        await removeInstances(PREFIX);
        const r = await installTool(rig, host);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.match(r.stdout.trim(), /^[a-f0-9]{64}$/, "the install command prints the tool's sha256");
    });
    after(async () => {
        if (rig) await removeInstances(PREFIX);
    });

    /** A fresh instance for one scenario. */
    async function fresh(name: string, basePort: number): Promise<HostReleaseSettings> {
        const instance = `${PREFIX}-${name}`;
        await resetInstance(rig, host, instance);
        return settingsFor(rig, instance, basePort);
    }

    function release(s: HostReleaseSettings, t: ReleaseTarget, extra: string[] = []) {
        return bluegreen(rig, host, [...releaseArgs(t, s), ...extra]);
    }

    async function releaseOk(s: HostReleaseSettings, version: string) {
        const r = await release(s, target(rig, version));
        assert.strictEqual(r.code, 0, `release ${version} failed:\n${r.stderr}`);
        return r;
    }

    async function served(s: HostReleaseSettings): Promise<string> {
        const r = await get(s.publicPort, "/version");
        assert.strictEqual(r.status, 200);
        return r.body;
    }

    it("first release: starts the proxy and blue, serves the version, records the release", async () => {
        const s = await fresh("first", 18110);
        const r = await releaseOk(s, "1.0.0");
        assert.strictEqual(await served(s), "1.0.0");
        const st = await status(rig, host, s.instance!);
        assert.strictEqual(st.version, "1.0.0");
        assert.strictEqual(st.digest, rig.appDigests["1.0.0"]);
        assert.strictEqual(st.active?.colour, "blue");
        assert.strictEqual(st.retained, null);
        assert.deepStrictEqual(
            JSON.parse(r.stdout.trim().split("\n").pop()!),
            st,
            "stdout ends with the summary",
        );
        const [entry] = await history(rig, host, s.instance!);
        assert.strictEqual(entry.result, "success");
        assert.strictEqual(entry.version, "1.0.0");
        assert.strictEqual(entry.digest, rig.appDigests["1.0.0"]);
        assert.match(String(entry.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        assert.ok(Number(entry.duration_s) > 0);
        // The colour is on loopback only; the proxy owns the public port.
        const ports = await run("docker", ["port", `${s.instance}-blue`]);
        assert.match(ports.stdout, /^8000\/tcp -> 127\.0\.0\.1:18111$/m);
    });

    it("blue -> green -> blue under load: every request answered 2xx, the public port never changes", async () => {
        const s = await fresh("bgb", 18120);
        await releaseOk(s, "1.0.0");
        let load: autocannon.Instance | undefined;
        const finished = new Promise<autocannon.Result>((resolve, reject) => {
            load = autocannon(
                { url: `http://127.0.0.1:${s.publicPort}/`, connections: 20, duration: 120 },
                (err, result) => (err ? reject(err) : resolve(result)),
            );
        });
        await sleep(500);
        const colours: string[] = [];
        for (const v of ["2.0.0", "1.0.0", "2.0.0"]) {
            await releaseOk(s, v);
            assert.strictEqual(await served(s), v);
            colours.push((await status(rig, host, s.instance!)).active!.colour);
        }
        await sleep(500);
        load!.stop();
        const result = await finished;
        assert.deepStrictEqual(colours, ["green", "blue", "green"]);
        assert.ok(result.requests.total > 100, `only ${result.requests.total} requests`);
        assert.strictEqual(result.non2xx, 0, "non-2xx responses during the switches");
        assert.strictEqual(result.errors, 0, "socket errors during the switches");
    });

    it("a version that never becomes healthy: no switch, the old colour serves, new one removed, exit 5", async () => {
        const s = {
            ...(await fresh("unhealthy", 18130)),
            health: { path: "/health", successes: 3, intervalMs: 200, timeoutSeconds: 3 },
        };
        await releaseOk(s, "1.0.0");
        const r = await release(s, target(rig, "3.0.0-unhealthy"));
        assert.strictEqual(r.code, 5, r.stderr);
        assert.match(r.stderr, /did not pass GET \/health 3 times in a row within 3s/);
        assert.match(r.stderr, /still serving 1\.0\.0 on blue/);
        assert.strictEqual(await served(s), "1.0.0");
        assert.strictEqual(await inspect(`${s.instance}-green`), null, "the unhealthy colour is removed");
        const last = (await history(rig, host, s.instance!)).pop()!;
        assert.strictEqual(last.result, "failed");
        assert.strictEqual(last.version, "3.0.0-unhealthy");
    });

    it("a smoke failure after the switch: switched back, the old version serves, exit 6", async () => {
        const s = await fresh("smoke", 18140);
        await releaseOk(s, "1.0.0");
        const r = await release(s, target(rig, "4.0.0-smokefail"));
        assert.strictEqual(r.code, 6, r.stderr);
        assert.match(
            r.stderr,
            /smoke test of 4\.0\.0-smokefail failed \(GET \/version through the proxy failed/,
        );
        assert.match(r.stderr, /switching back to blue/);
        assert.strictEqual(await served(s), "1.0.0");
        const st = await status(rig, host, s.instance!);
        assert.strictEqual(st.active?.colour, "blue");
        assert.strictEqual(st.version, "1.0.0");
        assert.strictEqual(await inspect(`${s.instance}-green`), null);
    });

    it("rollback to the retained colour is instant (no pull, no new container); otherwise a normal release", async () => {
        const s = await fresh("rollback", 18150);
        await releaseOk(s, "1.0.0");
        await releaseOk(s, "2.0.0");
        const blueBefore = await inspect(`${s.instance}-blue`);
        const started = Date.now();
        await releaseOk(s, "1.0.0");
        const seconds = (Date.now() - started) / 1000;
        assert.strictEqual(await served(s), "1.0.0");
        const blueAfter = await inspect(`${s.instance}-blue`);
        assert.deepStrictEqual(blueAfter, blueBefore, "the retained container serves again, not restarted");
        const last = (await history(rig, host, s.instance!)).pop()!;
        assert.strictEqual(last.instant, true);
        assert.strictEqual(last.pull_s, 0);
        assert.ok(seconds < 3, `instant rollback took ${seconds}s over SSH`);
        // --fresh starts a new container even though the retained colour runs the version.
        const fresh2 = await release(s, target(rig, "2.0.0"), ["--fresh"]);
        assert.strictEqual(fresh2.code, 0, fresh2.stderr);
        assert.strictEqual((await history(rig, host, s.instance!)).pop()!.instant, false);
        // Not retained any more once a third version replaced it: a normal release.
        const r = await release(s, target(rig, "5.0.0-slow"), ["--health-timeout", "30"]);
        assert.strictEqual(r.code, 0, r.stderr);
        await releaseOk(s, "1.0.0");
        const entry = (await history(rig, host, s.instance!)).pop()!;
        assert.strictEqual(entry.instant, false, "1.0.0 was no longer retained");
        assert.strictEqual(await served(s), "1.0.0");
    });

    it("two concurrent releases: the second fails naming the holder, or waits with --lock-timeout", async () => {
        const s = await fresh("lock", 18160);
        await releaseOk(s, "1.0.0");
        const slow = release(s, target(rig, "5.0.0-slow"));
        await sleep(1500);
        const second = await release(s, target(rig, "2.0.0"));
        assert.strictEqual(second.code, 3, second.stderr);
        assert.match(
            second.stderr,
            /another release holds the lock .*: pid \d+, user bgdeploy, releasing 5\.0\.0-slow/,
        );
        const waiting = release(s, target(rig, "2.0.0"), ["--lock-timeout", "60"]);
        const first = await slow;
        assert.strictEqual(first.code, 0, first.stderr);
        const third = await waiting;
        assert.strictEqual(third.code, 0, third.stderr);
        assert.strictEqual(await served(s), "2.0.0");
        const results = (await history(rig, host, s.instance!)).map((e) => `${e.version}:${e.result}`);
        assert.deepStrictEqual(results, [
            "1.0.0:success",
            "2.0.0:failed",
            "5.0.0-slow:success",
            "2.0.0:success",
        ]);
    });

    it("SSH connection killed mid-release: the release completes on the host, a re-run succeeds", async () => {
        const s = await fresh("sshkill", 18170);
        await releaseOk(s, "1.0.0");
        const cut = release(s, target(rig, "5.0.0-slow"));
        // release() spawns ssh; find it by its command line, then kill the client (connection lost).
        await sleep(2500);
        const ps = await run("pgrep", ["-f", `ssh .* ${rig.user} 127.0.0.1 -- .*--instance ${s.instance} `]);
        const pid = Number(ps.stdout.trim().split("\n")[0]);
        assert.ok(pid > 0, "the ssh client of the release is running");
        process.kill(pid, "SIGKILL");
        const r = await cut;
        assert.strictEqual(r.signal, "SIGKILL");
        // The host finishes the release by itself; a re-run waits for the lock and has nothing to do.
        const again = await release(s, target(rig, "5.0.0-slow"), ["--lock-timeout", "60"]);
        assert.strictEqual(again.code, 0, again.stderr);
        assert.strictEqual(await served(s), "5.0.0-slow");
        const results = (await history(rig, host, s.instance!)).map((e) => `${e.version}:${e.result}`);
        assert.deepStrictEqual(results, ["1.0.0:success", "5.0.0-slow:success", "5.0.0-slow:unchanged"]);
    });

    it("release killed on the host (SIGKILL) mid-health-gate: lock not stuck, old colour serves, re-run succeeds", async () => {
        const s = await fresh("kill9", 18180);
        await releaseOk(s, "1.0.0");
        const pending = release(s, target(rig, "5.0.0-slow"));
        await sleep(2500);
        const holder = await asHostUser(rig, `cat .local/state/bluegreen/${s.instance}/lock.holder`);
        const pid = Number(/^pid (\d+)/.exec(holder.stdout)?.[1]);
        assert.ok(pid > 0, holder.stdout);
        process.kill(pid, "SIGKILL");
        await pending;
        assert.strictEqual(await served(s), "1.0.0", "the old colour still serves");
        const again = await release(s, target(rig, "2.0.0"));
        assert.strictEqual(again.code, 0, `lock left stuck or state inconsistent:\n${again.stderr}`);
        assert.strictEqual(await served(s), "2.0.0");
    });

    it("the same image twice: nothing restarts", async () => {
        const s = await fresh("same", 18190);
        await releaseOk(s, "1.0.0");
        const before = await inspect(`${s.instance}-blue`);
        const proxyBefore = await inspect(`${s.instance}-proxy`);
        const r = await releaseOk(s, "1.0.0");
        assert.match(r.stderr, /already serves on blue; nothing to do/);
        assert.deepStrictEqual(await inspect(`${s.instance}-blue`), before);
        assert.deepStrictEqual(await inspect(`${s.instance}-proxy`), proxyBefore);
        assert.strictEqual(await inspect(`${s.instance}-green`), null, "no idle colour was started");
        assert.strictEqual((await history(rig, host, s.instance!)).pop()!.result, "unchanged");
    });

    it("a missing image: clear error, exit 4, nothing changed", async () => {
        const s = await fresh("missing", 18200);
        await releaseOk(s, "1.0.0");
        const before = await inspect(`${s.instance}-blue`);
        const r = await release(s, {
            image: rig.appImage,
            version: "9.9.9",
            digest: `sha256:${"0".repeat(64)}`,
        });
        assert.strictEqual(r.code, 4, r.stderr);
        assert.match(
            r.stderr,
            /cannot pull 127\.0\.0\.1:5555\/bluegreen-test\/app@sha256:0{64} .*nothing changed/,
        );
        assert.deepStrictEqual(await inspect(`${s.instance}-blue`), before);
        assert.strictEqual(await inspect(`${s.instance}-green`), null);
        assert.strictEqual(await served(s), "1.0.0");
    });

    it("injection attempts are refused by the gate and by the tool before anything runs (nothing changed)", async () => {
        const s = await fresh("inject", 18210);
        await releaseOk(s, "1.0.0");
        const t = target(rig, "2.0.0");
        // The component refuses to build such a command at all.
        assert.throws(
            () => releaseArgs({ ...t, version: "1.0;rm -rf /" }, s),
            /invalid version "1\.0;rm -rf \/"/,
        );
        // The host's gate refuses such a command line (sent shell-quoted); and the tool itself, given
        // one anyway as one argument (by the host's admin, not the key), rejects it.
        for (const [opt, value] of [
            ["--version", "1.0;rm -rf /"],
            ["--version", "$(touch /tmp/pwned)"],
            ["--image", "repo/app;id"],
            ["--smoke-path", "/x`id`"],
        ]) {
            const argv = releaseArgs(t, s);
            argv[argv.indexOf(opt) + 1] = value;
            const viaKey = await onHost(rig, host, commandLine(["bluegreen", ...argv]));
            assert.strictEqual(viaKey.code, 11, `${opt} ${value}: ${viaKey.stderr}`);
            assert.match(viaKey.stderr, /bluegreen-gate: refused: .* is not a bluegreen command/);
            const r = await asHostUser(rig, commandLine([TOOL_PATH, ...argv]));
            assert.strictEqual(r.code, 2, `${opt} ${value}: ${r.stderr}`);
            assert.match(r.stderr, new RegExp(`invalid ${opt.slice(2)} `));
        }
        assert.ok(!fs.existsSync("/tmp/pwned"));
        assert.strictEqual((await history(rig, host, s.instance!)).length, 1, "no release was attempted");
        assert.strictEqual(await served(s), "1.0.0");
    });

    it("keeps the images of the last N releases and prunes older ones it released", async () => {
        // Earlier scenarios' containers still use these images; docker would (rightly) keep them.
        await removeInstances(PREFIX);
        const s = { ...(await fresh("prune", 18220)), keepReleases: 1 };
        // Images of this test's own: the rig's images may be in use by other instances on the
        // machine (the local stack serves 1.0.0), which docker rightly refuses to remove.
        const own: Record<string, ReleaseTarget> = {};
        for (const v of ["1.0.0", "2.0.0", "5.0.0-slow"]) own[v] = await ownImage(rig, "prune-app", v);
        const has = async (version: string) =>
            (await run("docker", ["image", "inspect", `${own[version].image}@${own[version].digest}`]))
                .code === 0;
        const releaseOwn = async (version: string, extra: string[] = []) => {
            const r = await release(s, own[version], extra);
            assert.strictEqual(r.code, 0, `release ${version} failed:\n${r.stderr}`);
        };
        await releaseOwn("1.0.0");
        await releaseOwn("2.0.0");
        assert.ok(await has("1.0.0"), "the retained colour's image stays while it runs");
        await releaseOwn("5.0.0-slow", ["--health-timeout", "30"]);
        assert.ok(!(await has("1.0.0")), "1.0.0 is neither among the last release nor in use");
        assert.ok(await has("2.0.0"), "2.0.0 is in use by the retained colour");
        // A pruned version is pulled again by digest when released.
        await releaseOwn("1.0.0");
        assert.ok(Number((await history(rig, host, s.instance!)).pop()!.pull_s) > 0);
    });

    /** A container's security settings and limits, and its main process's ids and capabilities. */
    async function hardening(name: string) {
        const r = await run("docker", [
            "inspect",
            "--format",
            "{{json .HostConfig.CapDrop}}|{{json .HostConfig.CapAdd}}|{{json .HostConfig.SecurityOpt}}|" +
                "{{.HostConfig.Memory}}|{{.HostConfig.MemorySwap}}|{{.HostConfig.PidsLimit}}|{{.State.Pid}}",
            name,
        ]);
        assert.strictEqual(r.code, 0, r.stderr);
        const [capDrop, capAdd, securityOpt, memory, swap, pids, pid] = r.stdout.trim().split("|");
        const proc = fs.readFileSync(`/proc/${pid}/status`, "utf8");
        const field = (f: string) => new RegExp(`^${f}:\\s+(.*)$`, "m").exec(proc)![1].trim();
        return {
            capDrop: JSON.parse(capDrop) as string[] | null,
            capAdd: ((JSON.parse(capAdd) as string[] | null) ?? []).sort(),
            securityOpt: JSON.parse(securityOpt) as string[] | null,
            memory: Number(memory),
            swap: Number(swap),
            pids: Number(pids),
            uid: field("Uid").split(/\s+/)[1],
            capEff: field("CapEff"),
            noNewPrivs: field("NoNewPrivs"),
        };
    }

    it("app and proxy containers run without capabilities, privilege gain, or unbounded memory and processes", async () => {
        const s = { ...(await fresh("hardened", 18230)), limits: { memory: "64m", pids: 100 } };
        await releaseOk(s, "1.0.0");
        assert.strictEqual(await served(s), "1.0.0", "the test app serves with no capability");
        const app = await hardening(`${s.instance}-blue`);
        assert.deepStrictEqual(app.capDrop, ["ALL"]);
        assert.deepStrictEqual(app.capAdd, []);
        assert.deepStrictEqual(app.securityOpt, ["no-new-privileges"]);
        assert.strictEqual(app.memory, 64 * 1024 * 1024);
        assert.strictEqual(app.swap, 64 * 1024 * 1024, "no swap beyond the memory limit");
        assert.strictEqual(app.pids, 100);
        assert.strictEqual(app.capEff, "0000000000000000", "the app process has no capability");
        assert.strictEqual(app.noNewPrivs, "1");

        const proxy = await hardening(`${s.instance}-proxy`);
        assert.deepStrictEqual(proxy.capDrop, ["ALL"]);
        assert.deepStrictEqual(
            proxy.capAdd,
            ["CAP_SETGID", "CAP_SETUID"],
            "no NET_BIND_SERVICE above port 1023",
        );
        assert.deepStrictEqual(proxy.securityOpt, ["no-new-privileges"]);
        const uid = (await run("id", ["-u", rig.user])).stdout.trim();
        assert.strictEqual(proxy.uid, uid, "HAProxy runs as the deploy user once bound");
        assert.strictEqual(proxy.capEff, "0000000000000000", "and keeps no capability");
        assert.strictEqual(proxy.noNewPrivs, "1");
    });

    it("a public port below 1024: the proxy gets NET_BIND_SERVICE to bind it, and nothing more", async () => {
        const s = { ...(await fresh("lowport", 18240)), publicPort: 981 };
        await releaseOk(s, "1.0.0");
        assert.strictEqual((await get(981, "/version")).body, "1.0.0");
        const proxy = await hardening(`${s.instance}-proxy`);
        assert.deepStrictEqual(proxy.capAdd, ["CAP_NET_BIND_SERVICE", "CAP_SETGID", "CAP_SETUID"]);
        assert.strictEqual(proxy.capEff, "0000000000000000", "no capability left once bound");
    });

    it("a wrong host key: SSH refuses the connection, nothing runs", async () => {
        const wrong = { ...host, hostKey: rig.wrongHostKey };
        const marker = "/tmp/bluegreen-wrong-host-key-ran";
        await run("rm", ["-f", marker]);
        const r = await run("ssh", [...sshArgs(rig, wrong), "--", `touch ${marker}`]);
        assert.strictEqual(r.code, 255);
        assert.match(r.stderr, /Host key verification failed/);
        assert.ok(!fs.existsSync(marker), "the command ran despite the wrong host key");
    });
});
