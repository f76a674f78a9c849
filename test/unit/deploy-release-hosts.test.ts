/**
 * release-hosts, the multi-host orchestrator, run for real by bash against a stand-in `ssh` on PATH
 * that plays the hosts: it prints each host's status line as a host would, and records every
 * command it is asked to run. What a host reports is input like any other: a hostile or malformed
 * status line must fail the release before any host is switched.
 */
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ORCHESTRATOR_SOURCE, orchestratorArgs } from "../../components/deploy/release-plan";

const digestA = `sha256:${"a".repeat(64)}`;
const digestB = `sha256:${"b".repeat(64)}`;
const hosts = [
    { name: "web-1", address: "10.0.0.1", port: 22, hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA" },
    { name: "web-2", address: "10.0.0.2", port: 22, hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB" },
];
const settings = {
    publicPort: 80,
    appPort: 8000,
    bluePort: 18001,
    greenPort: 18002,
    proxyImage: `haproxy:2.6@${digestA}`,
    health: { path: "/health", successes: 1, intervalMs: 100, timeoutSeconds: 5 },
    smokePaths: ["/health"],
    keepReleases: 5,
    lockTimeoutSeconds: 0,
    limits: { memory: "512m", pids: 512 },
};

/** A status line as `bluegreen status` prints it. */
const statusLine = (version: string, digest: string, image = "docker.io/acme/web-app") =>
    `{"instance":"app","version":"${version}","digest":"${digest}","image":"${image}","active":null,"retained":null}`;

/**
 * Runs release-hosts with a stand-in ssh. `statusOf` maps a host address to the status line it
 * prints; a release prints the summary of the version it was asked for (as the tool does).
 */
function releaseHosts(statusOf: Record<string, string>) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "release-hosts-"));
    const calls = path.join(dir, "calls");
    for (const [address, line] of Object.entries(statusOf)) {
        fs.writeFileSync(path.join(dir, `status-${address}`), `${line}\n`);
    }
    // The remote command is the last argument; the host address the one before "--".
    fs.writeFileSync(
        path.join(dir, "ssh"),
        `#!/bin/bash
set -euo pipefail
args=("$@")
n=\${#args[@]}
cmd="\${args[n-1]}"
address="\${args[n-3]}"
printf '%s %s\\n' "$address" "$cmd" >> ${JSON.stringify(calls)}
case "$cmd" in
    *" status"*)
        if [[ "$(cat ${JSON.stringify(dir)}/status-"$address")" == NO-GATE ]]; then
            echo "bash: line 1: bluegreen: command not found" >&2
            exit 127
        fi
        cat ${JSON.stringify(dir)}/status-"$address" ;;
    *" release "*)
        read -r -a w <<<"$cmd"
        for ((i = 0; i < \${#w[@]}; i++)); do
            case "\${w[i]}" in --version) v="\${w[i+1]}" ;; --digest) d="\${w[i+1]}" ;; esac
        done
        printf '{"instance":"app","version":"%s","digest":"%s","image":"docker.io/acme/web-app","active":null,"retained":null}\\n' "$v" "$d" ;;
    *) exit 99 ;;
esac
`,
        { mode: 0o755 },
    );
    fs.writeFileSync(path.join(dir, "key"), "not a real key\n", { mode: 0o600 });
    const args = orchestratorArgs(
        { image: "docker.io/acme/web-app", version: "2.0.0", digest: digestB },
        settings,
        {
            user: "deploy",
            hosts,
            batchSize: 1,
            keyFile: path.join(dir, "key"),
        },
    );
    const r = spawnSync("bash", [ORCHESTRATOR_SOURCE, ...args], {
        encoding: "utf8",
        env: { ...process.env, PATH: `${dir}:/usr/bin:/bin` },
    });
    const recorded = fs.existsSync(calls) ? fs.readFileSync(calls, "utf8").trim().split("\n") : [];
    fs.rmSync(dir, { recursive: true });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr, calls: recorded };
}

const releases = (calls: string[]) => calls.filter((c) => / release /.test(c));

describe("deploy: release-hosts reads back what hosts report, and trusts none of it", () => {
    it("a host whose key is not restricted to the gate (a shell answers): names the setup, changes nothing", () => {
        const r = releaseHosts({ "10.0.0.1": statusLine("1.0.0", digestA), "10.0.0.2": "NO-GATE" });
        assert.strictEqual(r.code, 9, r.stderr);
        assert.match(
            r.stderr,
            /cannot check web-2 .*command not found.*not set up for the deploy key.*scripts\/host-setup\.sh/,
        );
        assert.deepStrictEqual(releases(r.calls), []);
    });

    it("releases every host when their status lines are well-formed (the stand-in is faithful)", () => {
        const r = releaseHosts({
            "10.0.0.1": statusLine("1.0.0", digestA),
            "10.0.0.2": statusLine("", ""),
        });
        assert.strictEqual(r.code, 0, r.stderr);
        assert.strictEqual(releases(r.calls).length, 2);
        // Plain words, as the hosts' gate takes them.
        assert.strictEqual(r.calls[0], "10.0.0.1 bluegreen status");
        assert.match(
            r.calls[2],
            /^10\.0\.0\.1 bluegreen release --image docker\.io\/acme\/web-app --version 2\.0\.0 --digest sha256:b{64} --public-port 80 /,
        );
        assert.deepStrictEqual(JSON.parse(r.stdout.trim().split("\n").pop()!), {
            version: "2.0.0",
            digest: digestB,
            hosts: {
                "web-1": { version: "2.0.0", digest: digestB },
                "web-2": { version: "2.0.0", digest: digestB },
            },
        });
    });

    const hostile: [string, string, RegExp][] = [
        [
            "a version with a quote and a command substitution",
            statusLine(`1.0'$(touch /tmp/pwned)'`, digestA),
            /web-2 reported an invalid version in its status line: .*refusing to use it/,
        ],
        [
            "a version with an escaped JSON quote",
            statusLine(`1.0\\"; id; \\"`, digestA),
            /web-2 reported an invalid version in its status line/,
        ],
        ["a digest of the wrong form", statusLine("1.0.0", "sha256:abc"), /web-2 reported an invalid digest/],
        ["a digest of another algorithm", statusLine("1.0.0", `sha512:${"a".repeat(64)}`), /invalid digest/],
        [
            "an image with a shell separator",
            statusLine("1.0.0", digestA, "acme/app;reboot"),
            /web-2 reported an invalid image/,
        ],
        [
            "a version without its digest",
            statusLine("1.0.0", ""),
            /web-2 reported a version without a digest/,
        ],
        [
            "a line that is no status at all",
            "bash: welcome to the host",
            /web-2 printed a malformed status line/,
        ],
    ];
    for (const [what, line, message] of hostile) {
        it(`refuses ${what}, naming the host, before any host is switched`, () => {
            const r = releaseHosts({ "10.0.0.1": statusLine("1.0.0", digestA), "10.0.0.2": line });
            assert.strictEqual(r.code, 10, r.stderr);
            assert.match(r.stderr, message);
            assert.deepStrictEqual(releases(r.calls), [], "no release ran on any host");
            assert.ok(!fs.existsSync("/tmp/pwned"), "nothing the host said was executed");
        });
    }
});
