import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { pins } from "../../components/workflows/actions";
import { ciJobs, requiredStatusChecks } from "../../components/workflows/ci-jobs";
import * as pulumi from "@pulumi/pulumi";
import { parseConfig, readStackFile } from "../../config";
import { BlueGreenDeployment, hostReleaseSettings } from "../../components/deploy/blue-green-deployment";
import { deploymentUrn } from "../../components/workflows/common";
import { renderWorkflow, renderWorkflowFiles, statusBadges } from "../../components/workflows/render";
import { deployStacks, registryOf, releaseTagPatterns } from "../../components/workflows/settings";
import { RecordingMocks, testDigest } from "../../testkit/mocks";
import { secretNames } from "../../components/credentials";
import { goldenManifest, stackBadges } from "../../scripts/render";
import {
    listFiles,
    parse,
    ParsedStep,
    ParsedWorkflow,
    promiseOf,
    renderedByStack,
    renderParsed,
    root,
    settings,
    steps,
    walkStrings,
} from "./workflow-helpers";

const ci = ".github/workflows/ci.yml";
const staging = ".github/workflows/cd-staging.yml";
const production = ".github/workflows/cd-production.yml";
const scan = ".github/workflows/security-scan.yml";
const preview = ".github/workflows/pulumi-preview.yml";
const metrics = ".github/workflows/pipeline-metrics.yml";

/** Settings that differ from the committed stacks in every configurable way. */
const variants = {
    committed: settings(),
    slack: settings({ slack: true }),
    s3: settings({ backend: "s3" }),
    other: settings({
        pythonVersion: "3.11",
        sourceDir: "src/service",
        testDir: "test",
        coverageThreshold: 92,
        pulumiDir: "deploy/pulumi",
        dockerfile: "docker/Dockerfile",
        requirements: ["requirements/dev.txt"],
        image: "ghcr.io/acme/web-app",
        registry: "ghcr.io",
        slack: true,
        developBranch: "dev",
        releaseTags: ["release-*"],
        smokePaths: ["/healthz"],
    }),
};

const uses = (w: ParsedWorkflow) => steps(w).filter(({ step }) => step.uses);
const usesOf = (w: ParsedWorkflow, action: string) =>
    steps(w).filter(({ step }) => step.uses?.startsWith(`${action}@`));

describe("workflow files", () => {
    describe("what each stack commits", () => {
        it("renders all seven workflows for the stack that owns the repository-wide objects, none for the other", () => {
            const byStack = renderedByStack();
            assert.deepEqual(
                Object.keys(byStack.production).sort(),
                [production, staging, ci, preview, scan, metrics, ".github/workflows/drift.yml"].sort(),
            );
            assert.deepEqual(byStack.staging, {});
        });

        for (const stack of ["production", "staging"]) {
            it(`matches the golden files of ${stack} (update with npm run golden)`, () => {
                const dir = path.join(root, "test", "golden", stack);
                const rendered = renderedByStack()[stack];
                const manifest = JSON.parse(fs.readFileSync(path.join(dir, goldenManifest), "utf8"));
                assert.deepEqual(manifest, { stack, files: Object.keys(rendered).sort() });
                assert.deepEqual(
                    listFiles(dir).filter((f) => f !== goldenManifest),
                    Object.keys(rendered).sort(),
                );
                for (const [file, text] of Object.entries(rendered)) {
                    assert.equal(
                        text,
                        fs.readFileSync(path.join(dir, file), "utf8"),
                        `${stack}: ${file} differs`,
                    );
                }
            });
        }
    });

    describe("shellcheck", () => {
        it("finds nothing in any run script", function () {
            const probe = spawnSync("shellcheck", ["--version"], { encoding: "utf8" });
            if (probe.error || probe.status !== 0) {
                assert.fail(
                    "shellcheck is not installed (Debian package: shellcheck); it checks every run: script",
                );
            }
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "run-scripts-"));
            try {
                let checked = 0;
                for (const [variant, s] of Object.entries(variants)) {
                    for (const [p, w] of Object.entries(renderParsed(s))) {
                        for (const { job, step } of steps(w)) {
                            if (!step.run) continue;
                            const file = path.join(dir, `${checked++}.sh`);
                            // GitHub runs `bash --noprofile --norc -eo pipefail {0}`.
                            fs.writeFileSync(file, `#!/usr/bin/env bash\nset -eo pipefail\n${step.run}`);
                            const r = spawnSync("shellcheck", ["--severity=style", file], {
                                encoding: "utf8",
                            });
                            assert.equal(
                                r.status,
                                0,
                                `${variant} ${p} ${job} "${step.name}":\n${r.stdout}${r.stderr}`,
                            );
                        }
                    }
                }
                assert.ok(checked > 20, `only ${checked} scripts found`);
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });
    });

    describe("hardening", () => {
        const all = Object.entries(variants).flatMap(([variant, s]) =>
            Object.entries(renderWorkflowFiles(s)).map(([p, text]) => ({ variant, p, text, w: parse(text) })),
        );
        /** Job-level write permissions the pipeline needs, and nothing else. */
        const allowedWrites: Record<string, string[]> = {
            // id-token (S3 backend) is checked on its own below.
            [`${production}#release`]: ["contents"],
            [`${preview}#preview`]: ["pull-requests"],
            [`${scan}#image`]: ["security-events"],
            [`${scan}#dependencies`]: ["security-events"],
            [".github/workflows/drift.yml#issues"]: ["issues"],
        };

        it("declares read-only permissions for every workflow and explicit permissions for every job", () => {
            for (const { variant, p, w } of all) {
                assert.ok(w.permissions, `${variant} ${p}: no workflow permissions`);
                assert.ok(
                    !Object.values(w.permissions).includes("write"),
                    `${variant} ${p}: workflow-wide write`,
                );
                for (const [id, job] of Object.entries(w.jobs)) {
                    assert.ok(job.permissions, `${variant} ${p} ${id}: no permissions`);
                    const writes = Object.entries(job.permissions)
                        .filter(([scope, level]) => level === "write" && scope !== "id-token")
                        .map(([scope]) => scope);
                    assert.deepEqual(writes, allowedWrites[`${p}#${id}`] ?? [], `${variant} ${p} ${id}`);
                }
            }
        });

        it("pins every action to a full commit SHA with its release in a comment", () => {
            const known = new Map<string, string>(
                Object.values(pins).map((x) => [`${x.action}@${x.sha}`, x.version]),
            );
            for (const { variant, p, text, w } of all) {
                const lines = text.split("\n").filter((l) => /^\s*(- )?uses:/.test(l));
                assert.equal(lines.length, uses(w).length, `${variant} ${p}`);
                for (const line of lines) {
                    const m = /^\s*(?:- )?uses: ([\w.-]+\/[\w./-]+)@([0-9a-f]{40}) # (v\d+\.\d+\.\d+)$/.exec(
                        line,
                    );
                    assert.ok(m, `${variant} ${p}: not pinned: ${line.trim()}`);
                    assert.equal(
                        known.get(`${m[1]}@${m[2]}`),
                        m[3],
                        `${variant} ${p}: unknown pin ${line.trim()}`,
                    );
                }
            }
        });

        it("has no ${{ }} expression inside any run script", () => {
            for (const { variant, p, w } of all) {
                for (const { job, step } of steps(w)) {
                    if (step.run)
                        assert.ok(!step.run.includes("${{"), `${variant} ${p} ${job} "${step.name}"`);
                }
            }
        });

        it("refuses to render a run script that contains an expression", () => {
            assert.throws(
                () =>
                    renderWorkflow({
                        name: "x",
                        on: { push: {} },
                        permissions: {},
                        jobs: {
                            a: {
                                name: "A",
                                "runs-on": "ubuntu-latest",
                                "timeout-minutes": 1,
                                permissions: {},
                                steps: [{ name: "bad", run: "echo ${{ github.event.issue.title }}" }],
                            },
                        },
                    }),
                /through env/,
            );
        });

        it("grants id-token: write (S3 backend) only to the jobs that run Pulumi, each bound to its stack's environment", () => {
            let seen = 0;
            for (const { variant, p, w } of all) {
                for (const [id, job] of Object.entries(w.jobs)) {
                    const runsPulumi = job.steps.some((st) => st.uses?.startsWith("pulumi/actions@"));
                    const idToken = job.permissions?.["id-token"] === "write";
                    assert.equal(idToken, variant === "s3" && runsPulumi, `${variant} ${p} ${id}`);
                    if (!idToken) continue;
                    seen++;
                    assert.ok(job.environment?.name, `${p} ${id} is bound to an environment`);
                    const login = job.steps.findIndex((st) =>
                        st.uses?.startsWith("aws-actions/configure-aws-credentials@"),
                    );
                    const firstPulumi = job.steps.findIndex((st) => st.uses?.startsWith("pulumi/actions@"));
                    assert.ok(
                        login >= 0 && login < firstPulumi,
                        `${p} ${id}: the role is assumed before Pulumi runs`,
                    );
                    assert.deepEqual(job.steps[login].with, {
                        "role-to-assume": "${{ vars.PULUMI_BACKEND_ROLE }}",
                        "aws-region": "${{ vars.PULUMI_BACKEND_REGION }}",
                    });
                    for (const st of job.steps.filter(
                        (x) => x.uses?.startsWith("pulumi/actions@") && x.with?.command,
                    )) {
                        assert.equal(st.with?.["cloud-url"], "${{ env.PULUMI_BACKEND_URL }}");
                        assert.equal(st.env?.PULUMI_BACKEND_URL, "${{ vars.PULUMI_BACKEND_URL }}");
                        assert.equal(st.env?.PULUMI_ACCESS_TOKEN, undefined);
                    }
                }
            }
            assert.equal(
                seen,
                5,
                "the preview, the staging deploy, the production deploy and the drift checks of both stacks",
            );
        });

        it("pushes images only from jobs bound to an environment, so a push needs that environment's credentials", () => {
            let pushes = 0;
            for (const { variant, p, w } of all) {
                for (const [id, job] of Object.entries(w.jobs)) {
                    for (const st of job.steps) {
                        if (!st.uses?.startsWith("docker/build-push-action@") || st.with?.push !== true)
                            continue;
                        pushes++;
                        assert.ok(
                            job.environment?.name,
                            `${variant} ${p} ${id} pushes outside an environment`,
                        );
                    }
                }
            }
            assert.ok(pushes >= 2 * Object.keys(variants).length);
        });

        it("uses no cache in a workflow that tags triggers (a release), neither build layers nor npm or pip", () => {
            for (const { variant, p, w } of all) {
                const push = w.on.push as { tags?: string[] } | undefined;
                if (!push?.tags) continue;
                for (const { job, step } of steps(w)) {
                    const where = `${variant} ${p} ${job} "${step.name}"`;
                    assert.equal(step.with?.["cache-from"], undefined, where);
                    assert.equal(step.with?.["cache-to"], undefined, where);
                    assert.equal(step.with?.cache, undefined, where);
                    if (step.uses?.startsWith("actions/setup-node@"))
                        assert.equal(step.with?.["package-manager-cache"], false, where);
                }
            }
        });

        it("comments why each job needs every permission beyond contents: read", () => {
            for (const { variant, p, text, w } of all) {
                const lines = text.split("\n");
                for (const [id, job] of Object.entries(w.jobs)) {
                    for (const [scope, level] of Object.entries(job.permissions ?? {})) {
                        if (scope === "contents" && level === "read") continue;
                        const line = lines.find((l) => new RegExp(`^ {6}${scope}: ${level} # \\w`).test(l));
                        assert.ok(line, `${variant} ${p} ${id}: ${scope}: ${level} has no comment`);
                    }
                }
            }
        });

        it("passes secrets to steps only through env, and only the secrets the pipeline declares", () => {
            const declared = new Set<string>(Object.values(secretNames));
            let seen = 0;
            for (const { variant, p, w } of all) {
                walkStrings(w, (value, at) => {
                    const refs = [...value.matchAll(/secrets\.([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]);
                    if (refs.length === 0) return;
                    seen++;
                    assert.equal(
                        at[at.length - 2],
                        "env",
                        `${variant} ${p}: secret outside env at ${at.join(".")}`,
                    );
                    assert.match(
                        value,
                        /^\$\{\{ secrets\.[A-Z0-9_]+ \}\}$/,
                        `${variant} ${p} ${at.join(".")}`,
                    );
                    for (const name of refs)
                        assert.ok(declared.has(name), `${variant} ${p}: undeclared secret ${name}`);
                });
            }
            assert.ok(seen > 10);
        });

        it("binds every deploy job to the environment of the stack it deploys", () => {
            for (const { variant, p, w } of all) {
                for (const [id, job] of Object.entries(w.jobs)) {
                    const ups = job.steps.filter(
                        (st) => st.uses?.startsWith("pulumi/actions@") && st.with?.command === "up",
                    );
                    if (ups.length === 0) continue;
                    const stacks = new Set(ups.map((st) => st.with?.["stack-name"]));
                    assert.equal(stacks.size, 1, `${variant} ${p} ${id}: one stack per deploy job`);
                    assert.equal(job.environment?.name, [...stacks][0], `${variant} ${p} ${id}: environment`);
                }
            }
            const deployJobs = all
                .filter((x) => x.variant === "committed")
                .flatMap(({ w }) =>
                    Object.values(w.jobs).filter((j) => j.steps.some((st) => st.with?.command === "up")),
                );
            assert.equal(deployJobs.length, 2);
        });

        it("checks out without leaving the token in the workspace", () => {
            for (const { variant, p, w } of all) {
                for (const { step } of usesOf(w, "actions/checkout")) {
                    assert.equal(step.with?.["persist-credentials"], false, `${variant} ${p}`);
                }
            }
        });

        it("never triggers on pull_request_target or workflow_run", () => {
            for (const { p, w } of all) {
                assert.ok(!("pull_request_target" in w.on) && !("workflow_run" in w.on), p);
            }
        });

        it("gives every job a timeout", () => {
            for (const { p, text } of all) {
                const doc = YAML.parse(text) as { jobs: Record<string, { "timeout-minutes"?: number }> };
                for (const [id, job] of Object.entries(doc.jobs))
                    assert.ok((job["timeout-minutes"] ?? 0) > 0, `${p} ${id}`);
            }
        });
    });

    describe("ci.yml", () => {
        const w = renderParsed()[ci];

        it("runs on every push to a branch and on pull requests, cancelling superseded runs", () => {
            assert.deepEqual(w.on, { push: { branches: ["**"] }, pull_request: null });
            assert.equal(w.concurrency?.["cancel-in-progress"], true);
            assert.match(w.concurrency!.group, /github\.event\.pull_request\.number \|\| github\.ref/);
        });

        it("has exactly the jobs of ciJobs, and branch protection requires their names", () => {
            const names = Object.values(ciJobs).map((j) => j.name);
            assert.deepEqual(
                Object.keys(w.jobs),
                Object.values(ciJobs).map((j) => j.id),
            );
            assert.deepEqual(
                Object.values(w.jobs).map((j) => j.name),
                names,
            );
            assert.deepEqual(
                [...requiredStatusChecks].sort(),
                Object.values(w.jobs)
                    .map((j) => j.name)
                    .sort(),
            );
        });

        it("runs lint and test in parallel, build after both, the security scan after the build", () => {
            assert.equal(w.jobs.lint.needs, undefined);
            assert.equal(w.jobs.test.needs, undefined);
            assert.deepEqual(w.jobs.build.needs, ["lint", "test"]);
            assert.deepEqual(w.jobs["security-scan"].needs, ["build"]);
            assert.deepEqual(criticalPath(w), ["test", "build", "security-scan"]);
        });

        it("lints with flake8 and black --check, with pip's cache", () => {
            const runs = w.jobs.lint.steps.map((s) => s.run ?? "");
            assert.ok(runs.includes("python -m flake8 app tests"));
            assert.ok(runs.includes("python -m black --check --diff app tests"));
            const py = w.jobs.lint.steps.find((s) => s.uses?.startsWith("actions/setup-python@"));
            assert.deepEqual(py?.with, {
                "python-version": "3.12",
                cache: "pip",
                "cache-dependency-path": "requirements.txt\nrequirements-dev.txt",
            });
        });

        it("runs unit and integration tests with coverage, a threshold, an artifact and a job summary", () => {
            const t = w.jobs.test.steps;
            const runOf = (name: string) => t.find((s) => s.name === name)?.run ?? "";
            assert.match(runOf("Unit tests"), /^python -m pytest tests\/unit -x --cov=app/);
            assert.match(runOf("Integration tests"), /pytest tests\/integration .*--cov-append/);
            assert.match(runOf("Coverage report"), /GITHUB_STEP_SUMMARY/);
            assert.equal(runOf("Coverage threshold"), "python -m coverage report --fail-under=80");
            const uploads = t.filter((s) => s.uses?.startsWith("actions/upload-artifact@"));
            const coverage = uploads.find((s) => s.with?.name === "coverage");
            assert.equal(coverage?.if, "${{ !cancelled() }}");
            assert.match(String(coverage?.with?.path), /coverage\.xml/);
            // The threshold fails the job only after the report is kept.
            assert.ok(t.indexOf(coverage!) < t.findIndex((s) => s.name === "Coverage threshold"));
        });

        it("writes JUnit reports, summarises them in the job summary and keeps them as an artifact, even after a failure", () => {
            const t = w.jobs.test.steps;
            const byName = (name: string) => t.find((s) => s.name === name)!;
            assert.match(byName("Unit tests").run!, / --junitxml=test-results\/unit\.xml$/);
            assert.match(byName("Integration tests").run!, / --junitxml=test-results\/integration\.xml$/);
            const results = byName("Test results");
            assert.equal(results.if, "${{ !cancelled() }}");
            assert.match(
                results.run!,
                /test-results\/unit\.xml test-results\/integration\.xml >>"\$\{GITHUB_STEP_SUMMARY\}"/,
            );
            const upload = t.find((s) => s.with?.name === "test-results")!;
            assert.equal(upload.if, "${{ !cancelled() }}");
            assert.equal(upload.with?.path, "test-results/");
            assert.ok(t.indexOf(byName("Integration tests")) < t.indexOf(results));
            assert.ok(t.indexOf(results) < t.indexOf(upload));
        });

        it("builds with Buildx and GitHub's layer cache, and scans the image and the dependencies with Trivy", () => {
            const build = w.jobs.build.steps;
            assert.ok(build.some((s) => s.uses?.startsWith("docker/setup-buildx-action@")));
            const bp = build.find((s) => s.uses?.startsWith("docker/build-push-action@"));
            assert.equal(bp?.with?.["cache-to"], "type=gha,mode=max");
            assert.equal(bp?.with?.push, false);
            const trivies = w.jobs["security-scan"].steps.filter((s) =>
                s.uses?.startsWith("aquasecurity/trivy-action@"),
            );
            assert.deepEqual(trivies.map((s) => s.with?.["scan-type"]).sort(), ["fs", "image"]);
            for (const s of trivies) assert.equal(s.with?.["exit-code"], "1");
        });

        it("follows the stack's settings", () => {
            const o = renderParsed(variants.other)[ci];
            const runs = steps(o).map(({ step }) => step.run ?? "");
            assert.ok(runs.includes("python -m flake8 src/service test"));
            assert.ok(runs.includes("python -m coverage report --fail-under=92"));
            assert.ok(runs.includes("python -m pip install -r requirements/dev.txt"));
            assert.ok(steps(o).some(({ step }) => step.with?.["python-version"] === "3.11"));
            assert.ok(steps(o).some(({ step }) => step.with?.file === "docker/Dockerfile"));
        });
    });

    /**
     * A config-map input as pulumi/actions sees it: GitHub substitutes the expressions first, then
     * the action parses the text as YAML (an automation ConfigMap). `values` stands in for the
     * expressions' results; toJSON(...) yields a JSON string, as GitHub's toJSON does.
     */
    function configMapAsParsed(
        text: string,
        values: Record<string, string>,
    ): Record<string, { value: string; secret: boolean }> {
        const substituted = text.replace(/\$\{\{ (.+?) \}\}/g, (_, body: string) => {
            const json = /^toJSON\((.+)\)$/.exec(body);
            const key = json ? json[1] : body;
            assert.ok(key in values, `no value for ${body}`);
            return json ? JSON.stringify(values[key]) : values[key];
        });
        return YAML.parse(substituted);
    }
    const deployKey =
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=\n-----END OPENSSH PRIVATE KEY-----\n";

    describe("cd-staging.yml", () => {
        const w = renderParsed()[staging];
        const deploy = w.jobs.deploy;
        const up = deploy.steps.find((s) => s.id === "up")!;

        it("runs on pushes to develop, one run at a time (staging has no reviewers, so nothing waits for a person)", () => {
            assert.deepEqual(w.on, { push: { branches: ["develop"] } });
            assert.deepEqual(w.concurrency, { group: "cd-staging", "cancel-in-progress": false });
            assert.deepEqual(deploy.concurrency, { group: "deploy-staging", "cancel-in-progress": false });
        });

        it("pushes the image tagged with the commit and deploys its digest with pulumi up -s staging", () => {
            const meta = w.jobs.build.steps.find((s) => s.id === "meta");
            assert.equal(meta?.with?.tags, "type=sha,format=long,prefix=");
            assert.equal(meta?.with?.images, "docker.io/acme/web-app");
            const push = w.jobs.build.steps.find((s) => s.id === "push");
            assert.equal(push?.with?.push, true);
            // A commit whose image is already published (a re-run) is not pushed again.
            assert.equal(push?.if, "${{ steps.image.outputs.digest == '' }}");
            assert.equal(up.with?.["stack-name"], "staging");
            assert.equal(up.with?.["work-dir"], "infra");
            const sha = "0123456789abcdef0123456789abcdef01234567";
            assert.deepEqual(
                configMapAsParsed(String(up.with?.["config-map"]), {
                    "needs.build.outputs.version": sha,
                    "needs.build.outputs.digest": testDigest,
                    "env.DEPLOY_SSH_KEY": deployKey,
                }),
                {
                    version: { value: sha, secret: false },
                    digest: { value: testDigest, secret: false },
                    deploySshKey: { value: deployKey, secret: true },
                    releaseOnly: { value: "true", secret: false },
                },
            );
            assert.deepEqual(w.jobs.build.outputs, {
                version: "${{ steps.image.outputs.version }}",
                digest: "${{ steps.image.outputs.digest || steps.push.outputs.digest }}",
            });
        });

        it("builds and deploys with staging's own credentials, from the staging environment", () => {
            assert.equal(w.jobs.build.environment?.name, "staging");
            assert.equal(deploy.environment?.name, "staging");
            assert.deepEqual(up.env, {
                PULUMI_ACCESS_TOKEN: "${{ secrets.PULUMI_ACCESS_TOKEN }}",
                PULUMI_CONFIG_PASSPHRASE: "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}",
                DEPLOY_SSH_KEY: "${{ secrets.DEPLOY_SSH_KEY }}",
            });
            assert.equal(up.with?.["cloud-url"], undefined, "Pulumi Cloud, from PULUMI_ACCESS_TOKEN");
        });

        it("smoke-tests the health endpoint at the stack's environmentUrl, then notifies", () => {
            const smoke = deploy.steps.find((s) => s.id === "smoke")!;
            assert.equal(smoke.env?.ENVIRONMENT_URL, "${{ steps.up.outputs.environmentUrl }}");
            assert.match(smoke.run!, /paths=\(\/health \/version\)/);
            assert.deepEqual(w.jobs.notify.needs, ["build", "deploy"]);
            assert.equal(w.jobs.notify.if, "${{ !cancelled() }}");
        });
    });

    describe("cd-production.yml", () => {
        const w = renderParsed()[production];
        const deploy = w.jobs.deploy;
        const byId = (id: string) => deploy.steps.find((s) => s.id === id)!;
        const index = (pred: (s: ParsedStep) => boolean) => deploy.steps.findIndex(pred);

        it("runs on v* tags, or by hand with a required version, and does everything in one production-bound job", () => {
            assert.deepEqual(w.on.push, { tags: ["v*"] });
            const input = (w.on.workflow_dispatch as { inputs: Record<string, Record<string, unknown>> })
                .inputs;
            assert.deepEqual(Object.keys(input), ["version"]);
            assert.equal(input.version.required, true);
            assert.equal(input.version.type, "string");
            assert.deepEqual(Object.keys(w.jobs), ["deploy", "release", "notify"]);
            assert.equal(deploy.environment?.name, "production");
            assert.equal(deploy.needs, undefined, "no job runs before the approval");
        });

        it("builds and pushes only after the approval, from a tag on main, with no build cache and no npm cache", () => {
            const onMain = index((s) => s.name === "Check that the release tag is on the main branch");
            const push = index((s) => s.id === "push");
            assert.ok(onMain >= 0 && onMain < push, "the tag is checked before anything is built");
            const build = deploy.steps[push];
            assert.equal(build.with?.["cache-to"], undefined);
            assert.equal(build.with?.["cache-from"], undefined);
            const node = deploy.steps.find((s) => s.uses?.startsWith("actions/setup-node@"));
            assert.deepEqual(node?.with, { "node-version": "24", "package-manager-cache": false });
            const meta = byId("meta");
            assert.equal(
                meta.with?.tags,
                "type=semver,pattern={{version}}\ntype=semver,pattern={{major}}.{{minor}}",
            );
            assert.equal(meta.with?.flavor, "latest=false");
        });

        it("deploys a requested version's recorded digest without building, through the same approved job", () => {
            const image = byId("image");
            // The input reaches the script only through env, where it is validated.
            assert.equal(image.env?.REQUESTED_VERSION, "${{ inputs.version }}");
            assert.ok(!image.run!.includes("inputs."));
            assert.match(image.run!, /pulumi stack history --stack "\$\{STACK\}" --json/);
            assert.equal(image.env?.STACK, "production");
            assert.equal(byId("meta").if, "${{ github.event_name == 'push' }}");
            assert.equal(byId("push").if, "${{ steps.image.outputs.digest == '' }}");
            assert.equal(w.jobs.release.if, "${{ github.event_name == 'push' }}");
        });

        it("previews the whole stack in the job summary with a read-only GitHub App token, before pulumi up", () => {
            const token = deploy.steps.find((s) => s.uses?.startsWith("actions/create-github-app-token@"))!;
            assert.deepEqual(token.with, {
                "client-id": "${{ vars.PIPELINE_APP_CLIENT_ID }}",
                "private-key": "${{ env.APP_PRIVATE_KEY }}",
                owner: "acme",
                repositories: "web-app",
                "permission-contents": "read",
                "permission-members": "read",
            });
            assert.equal(token.env?.APP_PRIVATE_KEY, "${{ secrets.PIPELINE_APP_PRIVATE_KEY }}");
            const preview = deploy.steps.find((s) => s.with?.command === "preview")!;
            assert.equal(preview.with?.["comment-on-summary"], true);
            assert.equal(preview.env?.GITHUB_TOKEN, "${{ steps.app-token.outputs.token }}");
            const map = configMapAsParsed(String(preview.with?.["config-map"]), {
                "steps.image.outputs.version": "1.2.3",
                "steps.image.outputs.digest || steps.push.outputs.digest": testDigest,
                "env.DEPLOY_SSH_KEY": deployKey,
            });
            assert.deepEqual(map.releaseOnly, { value: "false", secret: false });
            assert.ok(deploy.steps.indexOf(token) < deploy.steps.indexOf(preview));
            assert.ok(deploy.steps.indexOf(preview) < index((s) => s.id === "up"));
            // The release itself runs with no GitHub credential.
            for (const id of ["up", "rollback"]) {
                assert.equal(byId(id).env?.GITHUB_TOKEN, undefined);
                assert.equal(
                    configMapAsParsed(String(byId(id).with?.["config-map"]), {
                        "steps.image.outputs.version": "1.2.3",
                        "steps.image.outputs.digest || steps.push.outputs.digest": testDigest,
                        "steps.previous.outputs.version": "1.2.2",
                        "steps.previous.outputs.digest": testDigest,
                        "env.DEPLOY_SSH_KEY": deployKey,
                    }).releaseOnly.value,
                    "true",
                );
            }
        });

        it("explains in its header the one approval-gated job, and how to roll back by hand", () => {
            const text = renderWorkflowFiles(variants.committed)[production];
            const header = text.slice(0, text.indexOf("\nname:")).trimEnd();
            assert.match(header, /^# One job, bound to the production environment/m);
            assert.match(header, /^# Manual rollback/m);
            assert.match(header, /Run workflow/);
            assert.ok(header.split("\n").every((l) => l.startsWith("#")));
        });

        it("records the serving version after waiting for earlier deploys, deploys, smoke-tests and rolls back on failure", () => {
            const order = deploy.steps.map((s) => s.id).filter(Boolean);
            assert.deepEqual(order, [
                "meta",
                "image",
                "push",
                "app-token",
                "previous",
                "up",
                "smoke",
                "rollback",
                "smoke-rollback",
            ]);
            const wait = index((s) => s.name === "Wait for an earlier production deploy to finish");
            assert.ok(wait >= 0 && wait < index((s) => s.id === "previous"));
            assert.match(byId("previous").run!, /pulumi stack output --json --stack "\$\{STACK\}"/);
            assert.doesNotMatch(byId("previous").run!, /\|\| true/);
            assert.equal(byId("previous").env?.STACK, "production");
            assert.equal(byId("up").with?.["stack-name"], "production");
            const rollback = byId("rollback");
            assert.match(rollback.if!, /failure\(\)/);
            assert.match(rollback.if!, /steps\.smoke\.outcome == 'failure'/);
            assert.match(rollback.if!, /steps\.previous\.outputs\.version != ''/);
            const map = configMapAsParsed(String(rollback.with?.["config-map"]), {
                "steps.previous.outputs.version": "1.2.2",
                "steps.previous.outputs.digest": testDigest,
                "env.DEPLOY_SSH_KEY": deployKey,
            });
            assert.deepEqual(map.version, { value: "1.2.2", secret: false });
            assert.deepEqual(map.digest, { value: testDigest, secret: false });
        });

        it("creates the GitHub release with gh only after a successful deploy of a pushed tag, then notifies", () => {
            assert.deepEqual(w.jobs.release.needs, ["deploy"]);
            assert.equal(w.jobs.release.if, "${{ github.event_name == 'push' }}");
            assert.match(w.jobs.release.steps[0].run!, /gh release create "\$\{TAG\}"/);
            assert.deepEqual(w.jobs.notify.needs, ["deploy", "release"]);
        });
    });

    describe("security-scan.yml", () => {
        const w = renderParsed()[scan];

        it("runs daily and on demand", () => {
            assert.ok(Array.isArray(w.on.schedule) && (w.on.schedule as unknown[]).length === 1);
            assert.ok("workflow_dispatch" in w.on);
        });

        it("scans each environment's deployed image and the dependencies into code scanning, with no secret", () => {
            assert.deepEqual(w.jobs.image.strategy?.matrix.stack, ["staging", "production"]);
            for (const id of ["image", "dependencies"]) {
                const job = w.jobs[id];
                const t = job.steps.find((s) => s.uses?.startsWith("aquasecurity/trivy-action@"));
                assert.equal(t?.with?.format, "sarif");
                const up = job.steps.find((s) => s.uses?.startsWith("github/codeql-action/upload-sarif@"));
                assert.equal(up?.with?.sarif_file, t?.with?.output);
                assert.equal(job.environment, undefined);
            }
            assert.equal(w.jobs.image.permissions?.deployments, "read");
            assert.doesNotMatch(JSON.stringify(w), /secrets\./);
        });
    });

    describe("pulumi-preview.yml", () => {
        const w = renderParsed()[preview];

        it("previews the staging stack alone on pull requests, from the preview environment, and comments the result", () => {
            assert.deepEqual(w.on, { pull_request: null });
            const job = w.jobs.preview;
            assert.equal(job.strategy, undefined);
            assert.deepEqual(job.environment, { name: "preview" });
            const p = job.steps.find((s) => s.uses?.startsWith("pulumi/actions@"))!;
            assert.equal(p.with?.command, "preview");
            assert.equal(p.with?.["comment-on-pr"], true);
            assert.equal(p.with?.["stack-name"], "staging");
            assert.equal(p.env?.PULUMI_CONFIG_PASSPHRASE, "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}");
            assert.doesNotMatch(JSON.stringify(w), /production/);
        });

        it("runs the preview for same-repository pull requests not opened by Dependabot, and a notice otherwise", () => {
            const condition =
                "github.event.pull_request.head.repo.full_name == github.repository && github.actor != 'dependabot[bot]'";
            assert.equal(w.jobs.preview.if, `\${{ ${condition} }}`);
            assert.equal(w.jobs["no-preview"].if, `\${{ !(${condition}) }}`);
            assert.deepEqual(w.jobs["no-preview"].permissions, {});
            assert.match(w.jobs["no-preview"].steps[0].run!, /::notice::/);
        });
    });

    describe("Slack", () => {
        it("is not in the files when off", () => {
            for (const w of Object.values(renderParsed(variants.committed))) {
                assert.equal(usesOf(w, "slackapi/slack-github-action").length, 0);
            }
        });

        it("notifies from both CD workflows when on, skipping when the webhook secret is unset", () => {
            const files = renderParsed(variants.slack);
            for (const p of [staging, production]) {
                const notify = files[p].jobs.notify;
                assert.equal(notify.env?.SLACK_WEBHOOK, "${{ secrets.SLACK_WEBHOOK }}");
                const s = notify.steps.find((st) => st.uses?.startsWith("slackapi/slack-github-action@"));
                assert.equal(s?.if, "${{ env.SLACK_WEBHOOK != '' }}");
                assert.equal(s?.with?.["webhook-type"], "incoming-webhook");
            }
        });
    });

    describe("registry", () => {
        it("logs in to the image's registry, or to Docker Hub by default", () => {
            assert.equal(registryOf("docker.io/acme/web-app"), undefined);
            assert.equal(registryOf("acme/web-app"), undefined);
            assert.equal(registryOf("ghcr.io/acme/web-app"), "ghcr.io");
            assert.equal(registryOf("localhost:5000/web-app"), "localhost:5000");
            const login = steps(renderParsed(variants.other)[staging]).find(({ step }) =>
                step.uses?.startsWith("docker/login-action@"),
            );
            assert.equal(login?.step.with?.registry, "ghcr.io");
        });
    });
    describe("one source for the CD triggers and environments", () => {
        const stackConfig = (stack: string) => parseConfig(readStackFile(stack), { requireSecrets: false });

        /** Where the CD workflows disagree with the committed stacks' environments. */
        function drift(files: Record<string, ParsedWorkflow>): string[] {
            const problems: string[] = [];
            const checks = [
                { file: staging, stack: deployStacks.staging, kind: "branches" as const },
                { file: production, stack: deployStacks.production, kind: "tags" as const },
            ];
            for (const { file, stack, kind } of checks) {
                const env = stackConfig(stack).environment;
                const w = files[file];
                const triggers = (w.on.push as Record<string, string[]>)[kind];
                for (const pattern of triggers) {
                    if (!env.deployFrom[kind].includes(pattern)) {
                        problems.push(
                            `${file} triggers on ${kind} ${pattern}, which ${stack} does not deploy from`,
                        );
                    }
                }
                if (
                    kind === "tags" &&
                    [...triggers].sort().join() !== [...env.deployFrom.tags].sort().join()
                ) {
                    problems.push(`${file} tags ${triggers} differ from ${stack}'s ${env.deployFrom.tags}`);
                }
                const deploy = w.jobs.deploy;
                if (deploy.environment?.name !== env.name) problems.push(`${file}: environment ${env.name}`);
                for (const st of deploy.steps.filter((x) => x.with?.command === "up")) {
                    if (st.with?.["stack-name"] !== stack)
                        problems.push(`${file}: ${st.name} deploys another stack`);
                }
            }
            return problems;
        }

        it("triggers cd-staging.yml and cd-production.yml on what Pulumi.staging.yaml and Pulumi.production.yaml deploy from", () => {
            const owning = renderedByStack().production;
            assert.deepEqual(
                drift(Object.fromEntries(Object.entries(owning).map(([p, t]) => [p, parse(t)]))),
                [],
            );
            assert.deepEqual(releaseTagPatterns, stackConfig("production").environment.deployFrom.tags);
        });

        it("reports drift, so the check above can fail", () => {
            const problems = drift(renderParsed(variants.other));
            assert.ok(
                problems.some((x) => x.includes("branches dev")),
                problems.join("\n"),
            );
            assert.ok(
                problems.some((x) => x.includes("tags release-*")),
                problems.join("\n"),
            );
        });
    });

    describe("pulumi up in the CD workflows", () => {
        it("targets only the stack's deployment and what depends on it (its hosts and release command)", () => {
            let seen = 0;
            for (const p of [staging, production]) {
                const w = renderParsed()[p];
                for (const { step } of steps(w)) {
                    if (!step.uses?.startsWith("pulumi/actions@") || step.with?.command !== "up") continue;
                    const stack = String(step.with?.["stack-name"]);
                    assert.equal(
                        step.with?.target,
                        `urn:pulumi:${stack}::cicd-pipeline::cicd:deploy:BlueGreenDeployment::${stack}`,
                        `${p} ${step.name}`,
                    );
                    assert.equal(step.with?.["target-dependents"], true, `${p} ${step.name}`);
                    seen++;
                }
            }
            assert.equal(seen, 3); // staging up, production up and rollback
        });

        it("names the URN the BlueGreenDeployment component really has", async () => {
            const config = parseConfig(readStackFile("production"), { requireSecrets: false });
            await pulumi.runtime.setMocks(new RecordingMocks(), config.project, "production", false);
            const deployment = new BlueGreenDeployment(config.environment.name, {
                hosts: config.deploy!.hosts,
                user: config.deploy!.user,
                privateKey: pulumi.secret("key"),
                image: config.deploy!.image,
                version: "1.0.0",
                digest: testDigest,
                resolveDigest: false,
                settings: hostReleaseSettings(config.deploy!),
            });
            const urn = await promiseOf(deployment.urn);
            assert.equal(urn, deploymentUrn(settings(), "production"));
            assert.equal(config.environment.name, "production");
        });

        it("runs the Pulumi program on Node.js 24", () => {
            let seen = 0;
            for (const w of Object.values(renderParsed())) {
                for (const { step } of usesOf(w, "actions/setup-node")) {
                    assert.equal(step.with?.["node-version"], "24");
                    seen++;
                }
            }
            assert.ok(seen >= 3);
        });
    });

    describe("pipeline-metrics.yml", () => {
        const w = renderParsed()[metrics];
        const job = w.jobs.metrics;

        it("runs weekly and on demand with a days input, reading the Actions API with read-only permissions", () => {
            assert.deepEqual(w.on.schedule, [{ cron: "17 6 * * 1" }]);
            assert.deepEqual((w.on.workflow_dispatch as { inputs: unknown }).inputs, {
                days: {
                    description: "Days back from now to compute the metrics over (1 to 400)",
                    required: false,
                    type: "string",
                    default: "30",
                },
            });
            assert.deepEqual(w.permissions, { contents: "read" });
            assert.deepEqual(job.permissions, { actions: "read", contents: "read" });
            const compute = job.steps[0];
            assert.equal(compute.env?.GH_TOKEN, "${{ github.token }}");
            assert.equal(compute.env?.DAYS, "${{ inputs.days }}");
            assert.match(compute.run!, /gh api --paginate/);
            assert.doesNotMatch(JSON.stringify(w), /github\.event\./);
        });

        it("keeps metrics.json as an artifact", () => {
            const upload = job.steps.find((s) => s.uses?.startsWith("actions/upload-artifact@"));
            assert.equal(upload?.with?.path, "pipeline-metrics/metrics.json");
            assert.equal(upload?.with?.["if-no-files-found"], "error");
        });

        it("reads back the names cd-production.yml really uses for its deploy job and steps", () => {
            const env = job.steps[0].env!;
            const cd = renderParsed()[production];
            assert.equal(cd.jobs.deploy.name, env.DEPLOY_JOB);
            assert.equal(cd.jobs.deploy.steps.find((s) => s.id === "up")?.name, env.UP_STEP);
            assert.equal(cd.jobs.deploy.steps.find((s) => s.id === "rollback")?.name, env.ROLLBACK_STEP);
            assert.equal(env.CI_WORKFLOW, "ci.yml");
            assert.equal(env.CD_WORKFLOW, "cd-production.yml");
        });
    });

    describe("status badges", () => {
        it("links the CI and CD workflows' badges to their runs", () => {
            assert.equal(
                statusBadges("acme", "web-app").split("\n")[0],
                "[![ci.yml](https://github.com/acme/web-app/actions/workflows/ci.yml/badge.svg)]" +
                    "(https://github.com/acme/web-app/actions/workflows/ci.yml)",
            );
            assert.deepEqual(
                statusBadges("acme", "web-app")
                    .split("\n")
                    .map((l) => /workflows\/([\w.-]+)\/badge\.svg/.exec(l)?.[1]),
                ["ci.yml", "cd-staging.yml", "cd-production.yml"],
            );
        });

        it("are printed by npm run render", () => {
            assert.equal(stackBadges("production"), statusBadges("acme", "web-app"));
            assert.equal(stackBadges("staging"), undefined);
        });
    });
});

/** The longest chain of jobs by `needs`, breaking ties by the seed's durations (test is longest). */
function criticalPath(w: ParsedWorkflow): string[] {
    const minutes: Record<string, number> = { lint: 1, test: 3, build: 3, "security-scan": 2 };
    const memo = new Map<string, { cost: number; path: string[] }>();
    const longest = (id: string): { cost: number; path: string[] } => {
        if (memo.has(id)) return memo.get(id)!;
        const before = (w.jobs[id].needs ?? []).map(longest).sort((a, b) => b.cost - a.cost)[0];
        const result = {
            cost: (before?.cost ?? 0) + (minutes[id] ?? 1),
            path: [...(before?.path ?? []), id],
        };
        memo.set(id, result);
        return result;
    };
    return Object.keys(w.jobs)
        .map(longest)
        .sort((a, b) => b.cost - a.cost)[0].path;
}
