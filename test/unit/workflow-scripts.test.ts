/**
 * Runs the rendered workflows' run scripts with bash -eo pipefail, as the runner does, against
 * stand-ins for the tools they call (pulumi, docker, gh) and a local HTTP server: the logic in them
 * is tested, not only their text.
 */
import { strict as assert } from "assert";
import { spawn, spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as http from "http";
import { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import { releaseImageLine } from "../../components/workflows/cd";
import { renderParsed, ParsedStep } from "./workflow-helpers";

const files = renderParsed();
const production = files[".github/workflows/cd-production.yml"];
const staging = files[".github/workflows/cd-staging.yml"];
const scan = files[".github/workflows/security-scan.yml"];
const metrics = files[".github/workflows/pipeline-metrics.yml"];

const stepOf = (job: { steps: ParsedStep[] }, id: string) => job.steps.find((s) => s.id === id)!;

interface Result {
    status: number | null;
    stdout: string;
    stderr: string;
    /** What the step wrote to $GITHUB_OUTPUT. */
    outputs: Record<string, string>;
    summary: string;
    /** Arguments each stand-in was called with, one call a line. */
    calls: string;
    dir: string;
}

/**
 * Runs a step's script with its env (expressions replaced by `env`), stand-in commands on PATH
 * (name to bash script) and the runner's files.
 */
function runStep(
    step: ParsedStep,
    env: Record<string, string>,
    fakes: Record<string, string> = {},
    prepare: (work: string) => void = () => {},
): Promise<Result> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "step-"));
    const bin = path.join(dir, "bin");
    fs.mkdirSync(bin);
    const calls = path.join(dir, "calls.log");
    fs.writeFileSync(calls, "");
    for (const [name, body] of Object.entries(fakes)) {
        const file = path.join(bin, name);
        fs.writeFileSync(file, `#!/usr/bin/env bash\necho "${name} $*" >>"${calls}"\n${body}\n`);
        fs.chmodSync(file, 0o755);
    }
    const script = path.join(dir, "step.sh");
    fs.writeFileSync(script, step.run!);
    const output = path.join(dir, "output");
    const summary = path.join(dir, "summary.md");
    const work = path.join(dir, "work");
    fs.mkdirSync(work);
    prepare(work);
    const literalEnv = Object.fromEntries(
        Object.entries(step.env ?? {}).filter(([, v]) => !String(v).includes("${{")),
    );
    return new Promise((resolve) => {
        const child = spawn("bash", ["--noprofile", "--norc", "-eo", "pipefail", script], {
            cwd: work,
            env: {
                PATH: `${bin}:${process.env.PATH}`,
                HOME: dir,
                GITHUB_OUTPUT: output,
                GITHUB_STEP_SUMMARY: summary,
                GITHUB_REPOSITORY: "acme/web-app",
                GITHUB_EVENT_NAME: "push",
                RUNNER_TEMP: dir,
                ...literalEnv,
                ...env,
            },
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("close", (status) => {
            const read = (f: string) => (fs.existsSync(f) ? fs.readFileSync(f, "utf8") : "");
            const outputs = Object.fromEntries(
                read(output)
                    .split("\n")
                    .filter(Boolean)
                    .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
            );
            resolve({ status, stdout, stderr, outputs, summary: read(summary), calls: read(calls), dir });
        });
    });
}

/**
 * gh as the REST API answers `gh api [--paginate] PATH --jq EXPR`: the JSON stored for PATH in
 * $FAKE_GH_DIR (written by ghApi), filtered by the step's own jq expression (gh's --jq prints
 * strings raw, like jq -r); a path with no stored answer is a 404.
 */
const fakeGhApi = [
    'path=""; filter=""',
    "while [ $# -gt 0 ]; do",
    '  case "$1" in',
    "    api|--paginate) ;;",
    '    --jq) filter="$2"; shift ;;',
    "    -*) ;;",
    '    *) path="$1" ;;',
    "  esac",
    "  shift",
    "done",
    'file="${FAKE_GH_DIR}/$(printf "%s" "${path}" | sha256sum | cut -c1-16).json"',
    'if [ ! -f "${file}" ]; then echo "gh: Not Found (HTTP 404): ${path}" >&2; exit 1; fi',
    'if [ -n "${filter}" ]; then jq -r "${filter}" "${file}"; else cat "${file}"; fi',
].join("\n");

/** Stores API answers for fakeGhApi: path (as the step asks for it) to JSON; returns the directory. */
function ghApi(answers: Record<string, unknown>): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gh-api-"));
    for (const [p, body] of Object.entries(answers)) {
        const key = createHash("sha256").update(p).digest("hex").slice(0, 16);
        fs.writeFileSync(path.join(dir, `${key}.json`), JSON.stringify(body));
    }
    return dir;
}

const digest = `sha256:${"ab".repeat(32)}`;
const otherDigest = `sha256:${"cd".repeat(32)}`;

/** A pulumi stand-in that prints $FAKE_OUTPUTS for `stack output --json`, or fails like a bad login. */
const fakePulumi = [
    'if [ "${FAKE_FAIL:-}" = 1 ]; then',
    '  echo "error: failed to load checkpoint: blob (key .pulumi/meta.yaml): 403 Forbidden" >&2',
    "  exit 255",
    "fi",
    'printf "%s\\n" "${FAKE_OUTPUTS}"',
].join("\n");

describe("workflow run scripts", function () {
    this.timeout(30000);

    describe("reading a stack's outputs", () => {
        const previous = stepOf(production.jobs.deploy, "previous");
        const deployed = stepOf(scan.jobs.image, "deployed");

        it("records the version and digest production serves", async () => {
            const r = await runStep(
                previous,
                { FAKE_OUTPUTS: JSON.stringify({ version: "1.0.0", digest, environmentUrl: "https://x" }) },
                { pulumi: fakePulumi },
            );
            assert.equal(r.status, 0, r.stdout + r.stderr);
            assert.deepEqual(r.outputs, { version: "1.0.0", digest });
            assert.equal(r.calls.trim(), "pulumi stack output --json --stack production");
        });

        it("tells a first release (no version output) apart: nothing to roll back to, and no error", async () => {
            const r = await runStep(previous, { FAKE_OUTPUTS: "{}" }, { pulumi: fakePulumi });
            assert.equal(r.status, 0, r.stdout + r.stderr);
            assert.deepEqual(r.outputs, { version: "", digest: "" });
            assert.match(r.stdout, /first release/);
        });

        it("fails when the outputs cannot be read, instead of treating production as empty", async () => {
            const r = await runStep(previous, { FAKE_FAIL: "1" }, { pulumi: fakePulumi });
            assert.notEqual(r.status, 0);
            assert.match(r.stdout, /::error::cannot read the outputs of stack production/);
            assert.deepEqual(r.outputs, {});
        });

        it("refuses a version or digest that could smuggle lines into GITHUB_OUTPUT", async () => {
            for (const outputs of [
                { version: "1.0.0\ndigest=sha256:evil", digest },
                { version: "1.0.0", digest: "latest" },
            ]) {
                const r = await runStep(
                    previous,
                    { FAKE_OUTPUTS: JSON.stringify(outputs) },
                    { pulumi: fakePulumi },
                );
                assert.notEqual(r.status, 0, JSON.stringify(outputs));
                assert.deepEqual(r.outputs, {});
            }
        });

        it("security-scan.yml asks each environment's last successful deployment which version it serves, with no credential", async () => {
            const server = http.createServer((req, res) => {
                if (req.url === "/version") {
                    res.setHeader("content-type", "application/json");
                    res.end(JSON.stringify({ version: "1.4.2" }));
                } else if (req.url === "/evil/version") {
                    res.end(JSON.stringify({ version: "1.0.0\nref=attacker/image" }));
                } else {
                    res.statusCode = 404;
                    res.end();
                }
            });
            await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
            const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
            // The deployments API as GitHub answers it: deployments newest first, each one's statuses
            // newest first, environment_url set from the job's environment.url
            // (https://docs.github.com/en/rest/deployments/deployments, .../deployments/statuses).
            const api = (url11: string) =>
                ghApi({
                    "repos/acme/web-app/deployments?environment=production&per_page=30": [
                        { id: 12 },
                        { id: 11 },
                    ],
                    "repos/acme/web-app/deployments?environment=staging&per_page=30": [],
                    "repos/acme/web-app/deployments/12/statuses?per_page=100": [
                        { state: "failure", environment_url: base },
                        { state: "in_progress", environment_url: "" },
                    ],
                    "repos/acme/web-app/deployments/11/statuses?per_page=100": [
                        { state: "success", environment_url: url11 },
                        { state: "in_progress", environment_url: "" },
                    ],
                });
            try {
                const run = (env: Record<string, string>, url11 = base) =>
                    runStep(
                        deployed,
                        { ENVIRONMENT: "production", FAKE_GH_DIR: api(url11), ...env },
                        { gh: fakeGhApi },
                    );
                // The newest deployment failed (no successful status with a URL): the one before counts.
                const found = await run({});
                assert.equal(found.status, 0, found.stdout + found.stderr);
                assert.deepEqual(found.outputs, { ref: "docker.io/acme/web-app:1.4.2" });
                assert.match(found.calls, /deployments\?environment=production&per_page=30/);
                assert.match(found.calls, /deployments\/12\/statuses/);
                assert.equal(deployed.env?.GH_TOKEN, "${{ github.token }}");
                assert.ok(
                    !Object.values(deployed.env ?? {}).some((v) => String(v).includes("secrets.")),
                    "the scan reads no secret",
                );

                const none = await run({ ENVIRONMENT: "staging" });
                assert.equal(none.status, 0, none.stdout + none.stderr);
                assert.deepEqual(none.outputs, {});
                assert.match(none.stdout, /no successful deployment/);

                const injected = await run({}, `${base}/evil`);
                assert.notEqual(injected.status, 0);
                assert.deepEqual(injected.outputs, {});

                const badUrl = await run({}, "http://x/$(touch pwned)");
                assert.notEqual(badUrl.status, 0);
                assert.match(badUrl.stdout, /not a plain http\(s\) URL/);
            } finally {
                server.close();
            }
        });
    });

    describe("finding the image published as a version", () => {
        const productionImage = stepOf(production.jobs.deploy, "image");
        const stagingImage = stepOf(staging.jobs.build, "image");
        /** docker buildx imagetools inspect as the registry would answer: published, missing or refused. */
        const fakeDocker = [
            'ref="$4"',
            'case "${FAKE_REGISTRY}" in',
            `  published) printf '{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"%s","size":1609}\\n' "\${FAKE_DIGEST}" ;;`,
            '  missing) echo "ERROR: ${ref}: not found" >&2; exit 1 ;;',
            '  refused) echo "ERROR: failed to authorize: failed to fetch oauth token: 401 Unauthorized" >&2; exit 1 ;;',
            "esac",
        ].join("\n");
        /**
         * `pulumi stack history --json` as the CLI prints it: updates newest first, each with the
         * config it ran with ({"<project>:<key>": {"value", "secret"}}), kind and result
         * (pulumi/pulumi pkg/cmd/pulumi/stack/stack_history.go, updateInfoJSON). $FAKE_HISTORY, or a
         * failure like a refused login.
         */
        const fakeHistory = [
            'if [ "${FAKE_HISTORY:-}" = fail ]; then echo "error: [403] Forbidden" >&2; exit 255; fi',
            'printf "%s\\n" "${FAKE_HISTORY:-[]}"',
        ].join("\n");
        let updateNumber = 0;
        /** One update as the history lists it; `number` is its update number (pulumi's `version`). */
        const update = (version: string, d: string, result = "succeeded", number = ++updateNumber) => ({
            version: number,
            kind: "update",
            result,
            startTime: "2026-11-01T10:00:00.000Z",
            config: {
                "cicd-pipeline:version": { value: version, secret: false },
                "cicd-pipeline:digest": { value: d, secret: false },
                "cicd-pipeline:deploySshKey": { value: "[secret]", secret: true },
            },
        });
        const run = (step: ParsedStep, env: Record<string, string>) =>
            runStep(step, { FAKE_DIGEST: digest, ...env }, { docker: fakeDocker, pulumi: fakeHistory });
        const dispatch = (env: Record<string, string>) =>
            run(productionImage, { GITHUB_EVENT_NAME: "workflow_dispatch", ...env });

        it("builds a tag's version that is not published yet", async () => {
            const r = await run(productionImage, { TAG_VERSION: "1.2.3", FAKE_REGISTRY: "missing" });
            assert.equal(r.status, 0, r.stdout + r.stderr);
            assert.deepEqual(r.outputs, { version: "1.2.3", digest: "" });
            assert.match(
                r.calls,
                /^docker buildx imagetools inspect docker\.io\/acme\/web-app:1\.2\.3 --format \{\{json \.Manifest\}\}$/m,
            );
            assert.match(r.calls, /^pulumi stack history --stack production --json$/m);
        });

        it("re-runs a release by deploying the digest production already recorded for the version", async () => {
            const r = await run(productionImage, {
                TAG_VERSION: "1.2.3",
                FAKE_REGISTRY: "published",
                // The first attempt failed after pushing: the failed update still records its config.
                FAKE_HISTORY: JSON.stringify([
                    update("1.2.3", digest, "failed"),
                    update("1.2.2", otherDigest),
                ]),
            });
            assert.equal(r.status, 0, r.stdout + r.stderr);
            assert.deepEqual(r.outputs, { version: "1.2.3", digest });
            assert.match(r.stdout, /already published/);
        });

        it("refuses a tag's version that someone else published: production never deployed that digest", async () => {
            for (const history of [[], [update("1.2.3", otherDigest, "failed")]]) {
                const r = await run(productionImage, {
                    TAG_VERSION: "1.2.3",
                    FAKE_REGISTRY: "published",
                    FAKE_HISTORY: JSON.stringify(history),
                });
                assert.notEqual(r.status, 0, JSON.stringify(history));
                assert.match(
                    r.stdout,
                    /::error::docker\.io\/acme\/web-app:1\.2\.3 exists already .* never deployed it/,
                );
                assert.deepEqual(r.outputs, {});
            }
        });

        it("staging deploys its own published commit image again on a re-run", async () => {
            const sha = "0123456789abcdef0123456789abcdef01234567";
            const r = await run(stagingImage, { TAG_VERSION: sha, FAKE_REGISTRY: "published" });
            assert.equal(r.status, 0, r.stdout + r.stderr);
            assert.deepEqual(r.outputs, { version: sha, digest });
            assert.doesNotMatch(r.calls, /pulumi/);
        });

        it("fails when the registry cannot be asked, rather than building over an existing tag", async () => {
            const r = await run(productionImage, { TAG_VERSION: "1.2.3", FAKE_REGISTRY: "refused" });
            assert.notEqual(r.status, 0);
            assert.match(r.stdout, /::error::cannot look up .*401 Unauthorized/);
            assert.deepEqual(r.outputs, {});
        });

        it("fails when production's history cannot be read", async () => {
            const r = await run(productionImage, {
                TAG_VERSION: "1.2.3",
                FAKE_REGISTRY: "missing",
                FAKE_HISTORY: "fail",
            });
            assert.notEqual(r.status, 0);
            assert.match(r.stdout, /::error::cannot read the history of stack production/);
        });

        it("redeploys a requested version (with or without v) by the digest production last released it with", async () => {
            const older = `sha256:${"ef".repeat(32)}`;
            for (const requested of ["1.0.0", "v1.0.0"]) {
                const r = await dispatch({
                    REQUESTED_VERSION: requested,
                    FAKE_REGISTRY: "published",
                    FAKE_HISTORY: JSON.stringify([
                        update("1.1.0", otherDigest, "succeeded", 14),
                        update("1.0.0", older, "failed", 13),
                        update("1.0.0", digest, "succeeded", 12),
                        update("1.0.0", older, "succeeded", 9),
                    ]),
                });
                assert.equal(r.status, 0, r.stdout + r.stderr);
                assert.deepEqual(r.outputs, { version: "1.0.0", digest });
                assert.doesNotMatch(r.stdout, /::warning::/);
            }
        });

        it("deploys the recorded digest, not what the version's tag points to today, and says so", async () => {
            const r = await dispatch({
                REQUESTED_VERSION: "1.0.0",
                FAKE_REGISTRY: "published",
                FAKE_DIGEST: otherDigest,
                FAKE_HISTORY: JSON.stringify([update("1.0.0", digest)]),
            });
            assert.equal(r.status, 0, r.stdout + r.stderr);
            assert.deepEqual(r.outputs, { version: "1.0.0", digest });
            assert.match(
                r.stdout,
                new RegExp(`::warning::.*now points to ${otherDigest}; deploying ${digest}`),
            );
        });

        it("refuses to redeploy a version production never released", async () => {
            for (const history of [[], [update("9.9.9", digest, "failed")]]) {
                const r = await dispatch({
                    REQUESTED_VERSION: "9.9.9",
                    FAKE_REGISTRY: "published",
                    FAKE_HISTORY: JSON.stringify(history),
                });
                assert.notEqual(r.status, 0);
                assert.match(r.stdout, /::error::stack production never released 9\.9\.9/);
                assert.deepEqual(r.outputs, {});
            }
        });

        it("validates the requested version before it reaches any command", async () => {
            for (const requested of ['1.0.0"; touch pwned; "', "1.0", "latest", "1.0.0\nx", "../1.0.0", ""]) {
                const r = await dispatch({ REQUESTED_VERSION: requested, FAKE_REGISTRY: "published" });
                assert.notEqual(r.status, 0, JSON.stringify(requested));
                assert.match(r.stdout, /::error::not a version to deploy/);
                assert.equal(r.calls, "", "nothing was called");
                assert.ok(!fs.existsSync(path.join(r.dir, "work", "pwned")));
            }
        });

        it("staging takes the commit SHA as the version, and only that", async () => {
            const sha = "0123456789abcdef0123456789abcdef01234567";
            const ok = await run(stagingImage, { TAG_VERSION: sha, FAKE_REGISTRY: "missing" });
            assert.equal(ok.status, 0, ok.stdout + ok.stderr);
            assert.deepEqual(ok.outputs, { version: sha, digest: "" });
            const bad = await run(stagingImage, { TAG_VERSION: "main", FAKE_REGISTRY: "missing" });
            assert.notEqual(bad.status, 0);
            // The manual-run input does not exist in cd-staging.yml.
            assert.equal(stagingImage.env?.REQUESTED_VERSION, undefined);
        });
    });

    describe("the production deploy job", () => {
        const deploy = production.jobs.deploy;
        const byName = (name: string) => deploy.steps.find((st) => st.name === name)!;

        it("releases only a tag whose commit is on the main branch", async () => {
            const onMain = byName("Check that the release tag is on the main branch");
            const git = (cwd: string, ...args: string[]) => {
                const r = spawnSync("git", args, { cwd, encoding: "utf8" });
                if (r.status !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr}`);
                return String(r.stdout).trim();
            };
            let reviewed = "";
            let unreviewed = "";
            // A checkout with fetch-depth 0: main as refs/remotes/origin/main, a side branch beside it.
            const prepare = (work: string) => {
                git(work, "init", "-q", "-b", "main");
                git(
                    work,
                    "-c",
                    "user.name=t",
                    "-c",
                    "user.email=t@t",
                    "commit",
                    "-q",
                    "--allow-empty",
                    "-m",
                    "reviewed",
                );
                reviewed = git(work, "rev-parse", "HEAD");
                git(work, "update-ref", "refs/remotes/origin/main", reviewed);
                git(work, "checkout", "-q", "-b", "side");
                git(
                    work,
                    "-c",
                    "user.name=t",
                    "-c",
                    "user.email=t@t",
                    "commit",
                    "-q",
                    "--allow-empty",
                    "-m",
                    "unreviewed",
                );
                unreviewed = git(work, "rev-parse", "HEAD");
            };
            // GITHUB_SHA (the tag's commit) is only known once the repository exists.
            const shaFromFile = { ...onMain, run: 'GITHUB_SHA="$(<.sha)"\n' + onMain.run };
            const viaFile = (sha: () => string) =>
                runStep(shaFromFile, { TAG: "v1.2.3" }, {}, (w) => {
                    prepare(w);
                    fs.writeFileSync(path.join(w, ".sha"), sha());
                });
            const good = await viaFile(() => reviewed);
            assert.equal(good.status, 0, good.stdout + good.stderr);
            const bad = await viaFile(() => unreviewed);
            assert.notEqual(bad.status, 0);
            assert.match(bad.stdout, /::error::tag v1\.2\.3 is on commit [0-9a-f]{40}, which is not on main/);
            assert.equal(onMain.if, "${{ github.event_name == 'push' }}");
            assert.equal(
                deploy.steps.find((st) => st.uses?.startsWith("actions/checkout@"))?.with?.["fetch-depth"],
                0,
            );
        });

        it("fails when the version's tag does not hold the digest it pushed", async () => {
            const check = byName("Check that the version's tag holds the pushed image");
            const docker = `printf '{"digest":"%s"}\\n' "\${FAKE_DIGEST}"`;
            const same = await runStep(
                check,
                { VERSION: "1.2.3", PUSHED: digest, FAKE_DIGEST: digest },
                { docker },
            );
            assert.equal(same.status, 0, same.stdout + same.stderr);
            const other = await runStep(
                check,
                { VERSION: "1.2.3", PUSHED: digest, FAKE_DIGEST: otherDigest },
                { docker },
            );
            assert.notEqual(other.status, 0);
            assert.match(
                other.stdout,
                /::error::docker\.io\/acme\/web-app:1\.2\.3 points to sha256:cd.*someone else published/,
            );
        });

        describe("waiting for an earlier deploy", () => {
            const wait = byName("Wait for an earlier production deploy to finish");
            const runs =
                "repos/acme/web-app/actions/workflows/cd-production.yml/runs?status=in_progress&per_page=100";
            const jobsOf = (id: number) =>
                `repos/acme/web-app/actions/runs/${id}/jobs?filter=latest&per_page=100`;
            const job = (status: string, started: string) => ({
                jobs: [
                    { name: "GitHub release", status: "queued", started_at: started },
                    { name: "Deploy to production", status, started_at: started },
                ],
            });
            const mine = "2026-12-02T10:00:05Z";
            /** sleep as the runner would, except that the earlier deploy finishes meanwhile. */
            const sleep = 'for f in "${FAKE_GH_DIR}"/after/*; do cp "$f" "${FAKE_GH_DIR}/"; done';
            const run = async (others: Record<number, { status: string; started: string }>) => {
                const dir = ghApi({
                    [runs]: {
                        workflow_runs: [
                            { id: 200 },
                            ...Object.keys(others).map((id) => ({ id: Number(id) })),
                        ],
                    },
                    [jobsOf(200)]: job("in_progress", mine),
                    ...Object.fromEntries(
                        Object.entries(others).map(([id, o]) => [
                            jobsOf(Number(id)),
                            job(o.status, o.started),
                        ]),
                    ),
                });
                const after = ghApi({ [runs]: { workflow_runs: [{ id: 200 }] } });
                fs.mkdirSync(path.join(dir, "after"));
                for (const f of fs.readdirSync(after))
                    fs.copyFileSync(path.join(after, f), path.join(dir, "after", f));
                return runStep(wait, { GITHUB_RUN_ID: "200", FAKE_GH_DIR: dir }, { gh: fakeGhApi, sleep });
            };
            const slept = (r: Result) => r.calls.split("\n").filter((l) => l.startsWith("sleep ")).length;

            it("goes ahead when the other run still waits for its approval (a rollback does not queue behind it)", async () => {
                const r = await run({ 100: { status: "waiting", started: "2026-12-02T09:00:00Z" } });
                assert.equal(r.status, 0, r.stdout + r.stderr);
                assert.equal(slept(r), 0);
            });

            it("waits while an earlier-started deploy job runs, then goes ahead", async () => {
                const r = await run({ 100: { status: "in_progress", started: "2026-12-02T10:00:00Z" } });
                assert.equal(r.status, 0, r.stdout + r.stderr);
                assert.equal(slept(r), 1);
                assert.match(r.stdout, /Run 100 is deploying to production; waiting/);
                assert.match(r.calls, /^sleep 15$/m);
            });

            it("does not wait for a deploy job that started after it", async () => {
                const r = await run({ 300: { status: "in_progress", started: "2026-12-02T10:00:09Z" } });
                assert.equal(r.status, 0, r.stdout + r.stderr);
                assert.equal(slept(r), 0);
            });

            it("orders two deploys that started in the same second by run id, so exactly one goes first", async () => {
                const lower = await run({ 100: { status: "in_progress", started: mine } });
                assert.equal(slept(lower), 1, "run 200 waits for run 100");
                const higher = await run({ 300: { status: "in_progress", started: mine } });
                assert.equal(slept(higher), 0, "run 200 goes before run 300");
            });

            it("fails when it cannot tell when it started", async () => {
                const dir = ghApi({ [runs]: { workflow_runs: [] } });
                const r = await runStep(wait, { GITHUB_RUN_ID: "200", FAKE_GH_DIR: dir }, { gh: fakeGhApi });
                assert.notEqual(r.status, 0);
                assert.match(r.stdout, /::error::cannot read when this deploy job started/);
            });
        });
    });

    describe("a pull request that gets no secrets", () => {
        const notice = files[".github/workflows/pulumi-preview.yml"].jobs["no-preview"].steps[0];

        it("says why there is no preview, for Dependabot and for forks, in the log and the job summary", async () => {
            const dependabot = await runStep(notice, { ACTOR: "dependabot[bot]" });
            assert.equal(dependabot.status, 0);
            assert.match(
                dependabot.stdout,
                /^::notice::no pulumi preview of staging: GitHub gives pull requests opened by Dependabot no Actions secrets/m,
            );
            assert.match(dependabot.summary, /### No pulumi preview/);
            const fork = await runStep(notice, { ACTOR: "someone" });
            assert.match(fork.stdout, /pull requests from forks no secrets/);
        });
    });

    describe("the GitHub release", () => {
        const create = production.jobs.release.steps[0];
        const gh = [
            'if [ "$1 $2" = "release view" ]; then [ -n "${FAKE_EXISTS:-}" ] && exit 0; exit 1; fi',
            'if [ "$1 $2" = "release create" ]; then printf "%s\\n" "$@" >"${RUNNER_TEMP}/create.args"; fi',
        ].join("\n");

        it("records the deployed digest in the release body, where a later redeploy reads it back", async () => {
            const r = await runStep(create, { TAG: "v1.2.3", DIGEST: digest }, { gh });
            assert.equal(r.status, 0, r.stdout + r.stderr);
            const args = fs.readFileSync(path.join(r.dir, "create.args"), "utf8").split("\n");
            assert.deepEqual(args.slice(0, 3), ["release", "create", "v1.2.3"]);
            assert.ok(args.includes("--verify-tag"));
            assert.equal(
                args[args.indexOf("--notes") + 1],
                releaseImageLine("docker.io/acme/web-app", digest),
            );
        });

        it("leaves an existing release as it is on a re-run, and refuses a missing digest", async () => {
            const again = await runStep(create, { TAG: "v1.2.3", DIGEST: digest, FAKE_EXISTS: "1" }, { gh });
            assert.equal(again.status, 0);
            assert.doesNotMatch(again.calls, /release create/);
            const none = await runStep(create, { TAG: "v1.2.3", DIGEST: "" }, { gh });
            assert.notEqual(none.status, 0);
            assert.doesNotMatch(none.calls, /release/);
        });
    });

    describe("smoke tests", () => {
        let server: http.Server;
        let served: string;
        let url: string;
        before(async () => {
            server = http.createServer((req, res) => {
                if (req.url === "/health") res.end(JSON.stringify({ status: "ok" }));
                else if (req.url === "/version") res.end(served);
                else res.writeHead(404).end();
            });
            await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
            url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        });
        after(() => server.close());

        const smoke = stepOf(production.jobs.deploy, "smoke");
        const check = (version: string, body: string) => {
            served = body;
            return runStep(smoke, { ENVIRONMENT_URL: url, EXPECTED_VERSION: version });
        };

        it("passes when /version serves exactly the expected version", async () => {
            const r = await check("1.0.1", JSON.stringify({ version: "1.0.1" }));
            assert.equal(r.status, 0, r.stdout + r.stderr);
            assert.match(r.stdout, /Smoke tests passed/);
        });

        it("fails when /version serves a version that merely contains the expected one", async () => {
            for (const other of ["1.0.10", "11.0.1", "1.0.1-rc.1"]) {
                const r = await check("1.0.1", JSON.stringify({ version: other }));
                assert.notEqual(r.status, 0, other);
                assert.match(
                    r.stdout,
                    new RegExp(`serves version ${other.replace(/\./g, "\\.")}, not 1\\.0\\.1`),
                );
            }
        });

        it("fails when /version does not answer JSON with a version string", async () => {
            for (const body of ["1.0.1", JSON.stringify({ v: "1.0.1" }), JSON.stringify({ version: 101 })]) {
                const r = await check("1.0.1", body);
                assert.notEqual(r.status, 0, body);
                assert.match(r.stdout, /does not answer JSON with a version string/);
            }
        });
    });

    describe("pipeline metrics", () => {
        const compute = metrics.jobs.metrics.steps[0];
        /** gh api as the Actions API would answer it, from fixture files (one JSON object a line). */
        const fakeGh = [
            'endpoint=""',
            'branch=""',
            'for a in "$@"; do',
            '  case "${a}" in',
            '    repos/*) endpoint="${a}" ;;',
            '    branch=*) branch="${a#branch=}" ;;',
            "  esac",
            "done",
            'case "${endpoint}" in',
            '  */workflows/ci.yml/runs) cat "${FIXTURES}/ci-${branch}.ndjson" ;;',
            '  */workflows/cd-production.yml/runs) cat "${FIXTURES}/cd.ndjson" ;;',
            '  */jobs) id="${endpoint%/jobs}"; cat "${FIXTURES}/jobs-${id##*/}.ndjson" ;;',
            '  *) echo "unexpected ${endpoint}" >&2; exit 1 ;;',
            "esac",
        ].join("\n");

        const ciRun = (
            id: number,
            conclusion: string | null,
            start: string,
            end: string,
            status = "completed",
        ) => ({
            id,
            status,
            conclusion,
            run_started_at: start,
            updated_at: end,
        });
        const step = (name: string, conclusion: string) => ({ name, status: "completed", conclusion });
        const deployJob = (conclusion: string, done: string, steps: object[]) => ({
            name: "Deploy to production",
            conclusion,
            completed_at: done,
            steps,
        });
        const up = (c: string) => step("pulumi up", c);
        const rollback = (c: string) => step("Roll back to the previous version", c);
        /** A finished production run whose deploy job ended as given. */
        const run = (id: number, created: string, conclusion: string, done: string, steps: object[]) => ({
            id,
            created,
            job: deployJob(conclusion, done, steps),
        });
        const released = [up("success"), rollback("skipped")];
        const rolledBack = [up("success"), rollback("success")];
        const cd: { id: number; created: string; status?: string; job?: ReturnType<typeof deployJob> }[] = [
            // A successful release: 20 minutes from the tag push to deployed.
            run(1, "2026-01-01T10:00:00Z", "success", "2026-01-01T10:20:00Z", released),
            // Smoke tests failed and the release was rolled back: production is down from here...
            run(2, "2026-01-02T10:00:00Z", "failure", "2026-01-02T10:15:00Z", rolledBack),
            // ...and the next release fails too (no rollback): the same incident.
            run(3, "2026-01-03T10:00:00Z", "failure", "2026-01-03T10:10:00Z", [
                up("failure"),
                rollback("skipped"),
            ]),
            // Recovered by this one, 26 h 15 min after the first failure; 30 minutes to deploy.
            run(4, "2026-01-03T12:00:00Z", "success", "2026-01-03T12:30:00Z", released),
            // The build failed: nothing was deployed.
            run(5, "2026-01-04T09:00:00Z", "skipped", "2026-01-04T09:05:00Z", []),
            // The approval was rejected: nothing was deployed.
            run(6, "2026-01-04T10:00:00Z", "failure", "2026-01-04T11:00:00Z", []),
            // Still running: not counted, and its jobs are not fetched.
            { id: 7, created: "2026-01-05T08:00:00Z", status: "in_progress" },
            // A manual redeploy: 40 minutes.
            run(8, "2026-01-05T09:00:00Z", "success", "2026-01-05T09:40:00Z", released),
            // A failure, rolled back, not recovered within the window.
            run(9, "2026-01-06T09:00:00Z", "failure", "2026-01-06T09:25:00Z", rolledBack),
        ];

        function fixtures(): string {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "metrics-fixtures-"));
            const write = (name: string, rows: object[]) =>
                fs.writeFileSync(path.join(dir, name), rows.map((r) => JSON.stringify(r) + "\n").join(""));
            write("ci-main.ndjson", [
                ciRun(101, "success", "2026-01-01T10:00:00Z", "2026-01-01T10:06:00Z"),
                ciRun(102, "failure", "2026-01-01T11:00:00Z", "2026-01-01T11:02:00Z"),
                ciRun(103, "success", "2026-01-02T10:00:00Z", "2026-01-02T10:04:00Z"),
                ciRun(104, "cancelled", "2026-01-02T11:00:00Z", "2026-01-02T11:01:00Z"),
            ]);
            write("ci-develop.ndjson", [
                ciRun(105, "success", "2026-01-03T10:00:00Z", "2026-01-03T10:05:00Z"),
                ciRun(106, null, "2026-01-03T11:00:00Z", "2026-01-03T11:01:00Z", "in_progress"),
            ]);
            write(
                "cd.ndjson",
                cd.map((r) => ({
                    id: r.id,
                    status: r.status ?? "completed",
                    conclusion: r.status ? null : r.job!.conclusion,
                    created_at: r.created,
                })),
            );
            for (const r of cd) {
                if (r.job)
                    write(`jobs-${r.id}.ndjson`, [
                        { name: "Build and push", conclusion: "success", steps: [] },
                        r.job,
                    ]);
            }
            return dir;
        }

        it("computes the six metrics from the runs of ci.yml and cd-production.yml", async () => {
            const dir = fixtures();
            const r = await runStep(compute, { FIXTURES: dir, DAYS: "14" }, { gh: fakeGh });
            assert.equal(r.status, 0, r.stdout + r.stderr);
            const m = JSON.parse(
                fs.readFileSync(path.join(r.dir, "work", "pipeline-metrics", "metrics.json"), "utf8"),
            );
            assert.deepEqual(m, {
                window_days: 14,
                build_success_rate_percent: 75.0, // 3 of 4 finished (cancelled and running left out)
                average_build_minutes: 5.0, // (6 + 4 + 5) / 3
                average_time_to_deploy_minutes: 30.0, // (20 + 30 + 40) / 3
                deployments_per_week: 1.5, // 3 successful in 14 days
                change_failure_rate_percent: 50.0, // 3 of 6 deploys
                mean_time_to_recovery_minutes: 1575.0, // 2026-01-02T10:15 to 2026-01-03T12:30
                counts: {
                    builds: 4,
                    successful_builds: 3,
                    deploys: 6,
                    failed_deploys: 3,
                    recoveries: 1,
                    unrecovered_failures: 1,
                },
            });
            assert.match(r.summary, /^### Pipeline metrics, last 14 days$/m);
            for (const row of [
                "| Build success rate | 75.0 % | 3 of 4 CI runs |",
                "| Average build time | 5.0 min |",
                "| Time to deploy | 30.0 min |",
                "| Deployment frequency | 1.5 / week | 3 successful deploys |",
                "| Mean time to recovery | 1575.0 min | 1 recoveries, 1 unrecovered |",
                "| Change failure rate | 50.0 % | 3 of 6 deploys failed or rolled back |",
            ]) {
                assert.ok(r.summary.includes(row), `${row}\n${r.summary}`);
            }
            // Pushes to main and develop only; the jobs of finished production runs only.
            const calls = r.calls.trim().split("\n");
            assert.equal(calls.filter((c) => c.includes("workflows/ci.yml/runs")).length, 2);
            assert.ok(calls.some((c) => / -f event=push -f branch=main /.test(c + " ")));
            assert.ok(calls.some((c) => / -f event=push -f branch=develop /.test(c + " ")));
            assert.ok(calls.every((c) => !c.includes("runs/7/jobs")));
            assert.ok(calls.some((c) => c.includes("runs/9/jobs -f filter=latest")));
        });

        it("answers n/a rather than dividing by zero when nothing ran", async () => {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "metrics-empty-"));
            for (const f of ["ci-main.ndjson", "ci-develop.ndjson", "cd.ndjson"])
                fs.writeFileSync(path.join(dir, f), "");
            const r = await runStep(compute, { FIXTURES: dir, DAYS: "" }, { gh: fakeGh });
            assert.equal(r.status, 0, r.stdout + r.stderr);
            const m = JSON.parse(
                fs.readFileSync(path.join(r.dir, "work", "pipeline-metrics", "metrics.json"), "utf8"),
            );
            assert.equal(m.window_days, 30, "30 days when the schedule runs it without input");
            assert.equal(m.build_success_rate_percent, null);
            assert.equal(m.change_failure_rate_percent, null);
            assert.equal(m.deployments_per_week, 0);
            assert.match(r.summary, /\| Mean time to recovery \| n\/a \|/);
        });

        it("refuses a days value that is not a whole number from 1 to 400", async () => {
            for (const days of ["0", "401", "7d", "-1", "1 2", "$(touch x)"]) {
                const r = await runStep(compute, { FIXTURES: "/nonexistent", DAYS: days }, { gh: fakeGh });
                assert.notEqual(r.status, 0, days);
                assert.match(r.stdout, /::error::days must be a whole number/);
                assert.equal(r.calls, "");
            }
        });
    });
});
