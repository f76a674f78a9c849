/**
 * The canary primitives of the host tool in the host tier (test/host/sandbox.ts): canary-start,
 * canary-weight, canary-stats, canary-promote and canary-abort, against the stand-in proxy (the
 * socat stand-in keeps each server's weight and plays its counters from servers/NAME.stats).
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { callsOf, digest, Host, freshHostPerTest, releaseArgv } from "./sandbox";

const D1 = digest("1");
const D2 = digest("2");

describe("host tier: canary primitives", function () {
    let host: Host;
    freshHostPerTest(this, (h) => (host = h));
    this.timeout(60_000);

    const start = (weight: string, ...extra: string[]) =>
        host.run([
            "canary-start",
            ...releaseArgv("2.0.0", D2).slice(1),
            ...["--public-port", "8080", "--health-successes", "1", "--health-interval-ms", "1"],
            ...["--weight", weight, ...extra],
        ]);
    const proxyInputs = (r: { calls: string[][] }) =>
        callsOf(r.calls, "socat")
            .map((c) => c.at(-1) ?? "")
            .filter((i) => i.startsWith("<set"));
    const weight = (colour: string) =>
        fs
            .readFileSync(
                path.join(host.state, "containers", "app-proxy", "servers", `${colour}.weight`),
                "utf8",
            )
            .trim();
    const canaryFile = () => path.join(host.stateDir(), "canary");

    function stableThenCanary(w = "5"): void {
        host.push(D1);
        host.push(D2);
        assert.strictEqual(host.release("1.0.0", D1).code, 0);
        const r = start(w);
        assert.strictEqual(r.code, 0, r.stderr);
    }

    it("canary-start: health-gates the new colour, then gives it W % of new requests beside the stable one", () => {
        host.push(D1);
        host.push(D2);
        host.release("1.0.0", D1);
        const r = start("5");
        assert.strictEqual(r.code, 0, r.stderr);
        assert.deepStrictEqual(proxyInputs(r), [
            "<set weight app/green 5; set weight app/blue 95; set server app/green state ready; set server app/blue state ready",
        ]);
        assert.deepStrictEqual(host.routes(), ["blue", "green"]);
        assert.match(r.stderr, /canary 2\.0\.0 on green takes 5% of new requests; blue serves the rest/);
        // The recorded release is still the stable one: a restarted proxy routes to it alone.
        assert.strictEqual(fs.readFileSync(path.join(host.stateDir(), "active"), "utf8"), "blue\n");
        assert.strictEqual(r.summary().version, "1.0.0");
        assert.match(fs.readFileSync(canaryFile(), "utf8"), /^colour=green\nstable=blue\nversion=2\.0\.0\n/);
        const entry = host.releases().at(-1)!;
        assert.strictEqual(entry.result, "canary");
        assert.strictEqual(entry.message, "canary at 5%; blue keeps serving the rest");
    });

    it("canary-start refuses a host that serves nothing yet (nothing to compare with), exit 2", () => {
        host.push(D2);
        const r = start("5");
        assert.strictEqual(r.code, 2, r.stderr);
        assert.match(
            r.stderr,
            /a canary needs a stable version serving to compare with; instance app serves none/,
        );
        assert.strictEqual(host.container("app-blue"), undefined);
    });

    for (const bad of ["0", "100", "5%"]) {
        it(`refuses --weight ${bad}, exit 2`, () => {
            const r = start(bad);
            assert.strictEqual(r.code, 2, r.stderr);
            assert.match(r.stderr, /invalid weight/);
            assert.deepStrictEqual(r.calls, []);
        });
    }

    it("canary-weight moves the share", () => {
        stableThenCanary();
        const r = host.run(["canary-weight", "--weight", "50"]);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.strictEqual(weight("green"), "50");
        assert.strictEqual(weight("blue"), "50");
        assert.match(fs.readFileSync(canaryFile(), "utf8"), /^weight=50$/m);
    });

    it("canary-stats prints both colours' counters from show stat as one JSON line", () => {
        stableThenCanary();
        const servers = path.join(host.state, "containers", "app-proxy", "servers");
        fs.writeFileSync(path.join(servers, "green.stats"), "200 9 1 0 12\n");
        fs.writeFileSync(path.join(servers, "blue.stats"), "3800 2 0 1 3\n");
        const r = host.run(["canary-stats"]);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.deepStrictEqual(JSON.parse(r.stdout.trim()), {
            instance: "app",
            canary: "green",
            stable: "blue",
            weight: 5,
            servers: {
                blue: {
                    requests: 3800,
                    http5xx: 2,
                    connErrors: 0,
                    respErrors: 1,
                    sessions: 0,
                    responseMs: 3,
                },
                green: {
                    requests: 200,
                    http5xx: 9,
                    connErrors: 1,
                    respErrors: 0,
                    sessions: 0,
                    responseMs: 12,
                },
            },
        });
        assert.deepStrictEqual(callsOf(r.calls, "flock"), [], "reading counters takes no lock");
    });

    it("canary-promote switches to the new colour (full weight), smoke-tests and retains the stable one", () => {
        stableThenCanary();
        const r = host.run(["canary-promote"]);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.deepStrictEqual(proxyInputs(r), [
            "<set weight app/green 100; set server app/green state ready; set server app/blue state maint",
        ]);
        assert.deepStrictEqual(host.routes(), ["green"]);
        assert.strictEqual(r.summary().version, "2.0.0");
        assert.strictEqual(host.container("app-blue")?.running, "true", "the stable colour is retained");
        assert.ok(!fs.existsSync(canaryFile()));
        assert.strictEqual(host.releases().at(-1)?.result, "success");
        // A rollback to the stable version is then instant.
        const back = host.release("1.0.0", D1);
        assert.strictEqual(back.code, 0, back.stderr);
        assert.strictEqual(host.releases().at(-1)?.instant, true);
    });

    it("canary-abort: weight 0, back to the stable colour, the new one drained, stopped and removed", () => {
        stableThenCanary();
        const r = host.run(["canary-abort", "--drain-timeout", "5", "--stop-timeout", "3"]);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.deepStrictEqual(proxyInputs(r), [
            "<set weight app/green 0",
            "<set weight app/blue 100; set server app/blue state ready; set server app/green state maint",
            "<set server app/green state drain",
            "<set server app/green state maint",
        ]);
        assert.deepStrictEqual(
            callsOf(r.calls, "docker", "stop").map((c) => c.slice(2).join(" ")),
            ["-t 3 app-green"],
        );
        assert.strictEqual(host.container("app-green"), undefined);
        assert.deepStrictEqual(host.routes(), ["blue"]);
        assert.strictEqual(r.summary().version, "1.0.0");
        assert.ok(!fs.existsSync(canaryFile()));
        assert.strictEqual(host.releases().at(-1)?.result, "aborted");
    });

    it("canary-abort without a recorded canary routes back to the last completed release, or does nothing", () => {
        stableThenCanary();
        fs.rmSync(canaryFile());
        const r = host.run(["canary-abort"]);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.match(
            r.stderr,
            /no canary is recorded on instance app; routed every new request back to blue/,
        );
        assert.deepStrictEqual(host.routes(), ["blue"]);
        const again = host.run(["canary-abort"]);
        assert.strictEqual(again.code, 0, again.stderr);
        assert.match(again.stderr, /no canary runs on instance app; nothing to abort/);
    });

    it("canary-weight and canary-promote without a canary fail, exit 2", () => {
        host.push(D1);
        host.release("1.0.0", D1);
        for (const argv of [["canary-weight", "--weight", "20"], ["canary-promote"]]) {
            const r = host.run(argv);
            assert.strictEqual(r.code, 2, r.stderr);
            assert.match(r.stderr, /no canary runs on instance app \(canary-start begins one\)/);
        }
    });

    it("a release during a canary routes back to the stable colour and replaces the canary's", () => {
        stableThenCanary();
        host.push(digest("3"));
        const r = host.release("3.0.0", digest("3"));
        assert.strictEqual(r.code, 0, r.stderr);
        assert.match(
            r.stderr,
            /proxy routes to both but the last completed release is on blue: restoring that/,
        );
        assert.deepStrictEqual(host.routes(), ["green"]);
        assert.strictEqual(r.summary().version, "3.0.0");
        assert.ok(!fs.existsSync(canaryFile()), "the superseded canary's record is gone");
    });
});
