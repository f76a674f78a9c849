/**
 * Who can read which credential, computed from the rendered workflows and the committed stack
 * configs (components/workflows/reachability.ts models how GitHub hands secrets to jobs; see the
 * citations there), and the rules the pipeline keeps: production's credentials reach only jobs
 * bound to the production environment (after approval), every declared secret is read by some
 * job, every read secret is declared where the job can read it. README shows the same table.
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { DeclaredCredential, stackCredentials } from "../../components/credentials";
import { workflowFilesForStack } from "../../components/workflows/render";
import { parseConfig, readStackFile } from "../../config";
import {
    reachability,
    reachabilityMarkdown,
    reachabilityProblems,
} from "../../components/workflows/reachability";
import { committedReachability, renderStack } from "../../scripts/render";
import { root } from "./workflow-helpers";

const committed = committedReachability();
const files = renderStack("production");

/** The rendered files with one workflow's parsed document changed by `edit`. */
type Doc = { concurrency?: unknown; jobs: Record<string, Record<string, unknown>> };
function edited(file: string, edit: (doc: Doc) => void): Record<string, string> {
    const doc = YAML.parse(files[file]) as Doc;
    edit(doc);
    return { ...files, [file]: YAML.stringify(doc) };
}

describe("reachability of credentials", () => {
    it("keeps every rule for the committed stacks and their workflows", () => {
        assert.deepEqual(reachabilityProblems(committed.reach, committed.credentials), []);
        assert.ok(committed.reach.length >= 10);
    });

    it("lets only jobs bound to the production environment, which has required reviewers, read a production credential", () => {
        const production = committed.environments.find((e) => e.name === "production")!;
        assert.ok(production.reviewers > 0);
        const readers = committed.reach.filter((r) => r.credential?.stack === "production");
        assert.ok(readers.length > 0);
        for (const r of readers) assert.equal(r.environment, "production", `${r.workflow} ${r.job}`);
        assert.deepEqual(
            [...new Set(readers.map((r) => `${r.workflow} ${r.job}`))],
            ["cd-production.yml deploy", "drift.yml production"],
        );
    });

    it("gives pull requests staging's Pulumi credentials alone, from the preview environment", () => {
        const pr = committed.reach.filter((r) => r.triggers.includes("pull_request"));
        assert.deepEqual(
            pr.map((r) => `${r.environment} ${r.secret} ${r.credential?.stack}`),
            ["preview PULUMI_ACCESS_TOKEN staging", "preview PULUMI_CONFIG_PASSPHRASE staging"],
        );
    });

    it("reads an environment's own secret when another environment holds one of the same name", () => {
        const staging = committed.reach.find(
            (r) => r.workflow === "cd-staging.yml" && r.secret === "PULUMI_CONFIG_PASSPHRASE",
        );
        assert.equal(staging?.credential?.environment, "staging");
        assert.equal(staging?.credential?.stack, "staging");
    });

    it("reports a job outside production that reaches a production credential", () => {
        // As if the production stack held the preview's passphrase (the old repository-secret design).
        const credentials: DeclaredCredential[] = committed.credentials.map((c) =>
            c.environment === "preview" && c.name === "PULUMI_CONFIG_PASSPHRASE"
                ? { ...c, stack: "production" }
                : c,
        );
        const problems = reachabilityProblems(reachability(files, credentials), credentials);
        assert.deepEqual(problems, [
            "pulumi-preview.yml job preview (environment preview) reads PULUMI_CONFIG_PASSPHRASE of the production stack",
        ]);
    });

    it("reports a job that reads a secret without being bound to the environment that holds it", () => {
        const unbound = edited(
            ".github/workflows/cd-production.yml",
            (doc) => delete doc.jobs.deploy.environment,
        );
        const problems = reachabilityProblems(
            reachability(unbound, committed.credentials),
            committed.credentials,
        );
        assert.ok(
            problems.some((p) =>
                /cd-production\.yml job deploy \(no environment\) reads DEPLOY_SSH_KEY, which no stack declares/.test(
                    p,
                ),
            ),
            problems.join("\n"),
        );
        // ...and the production secrets it no longer reads are read by nobody.
        assert.ok(
            problems.includes("production/DEPLOY_SSH_KEY (stack production) is declared but no job reads it"),
        );
    });

    it("reports a declared secret no job reads", () => {
        const withoutPreview = edited(
            ".github/workflows/pulumi-preview.yml",
            (doc) => delete doc.jobs.preview,
        );
        assert.deepEqual(
            reachabilityProblems(reachability(withoutPreview, committed.credentials), committed.credentials),
            [
                "preview/PULUMI_ACCESS_TOKEN (stack staging) is declared but no job reads it",
                "preview/PULUMI_CONFIG_PASSPHRASE (stack staging) is declared but no job reads it",
            ],
        );
    });

    it("with both stacks on an S3 backend, declares each environment's backend variables and no Pulumi token, and keeps every rule", () => {
        const backend = (stack: string) => ({
            url: `s3://acme-pulumi-state/web-app-${stack}?region=eu-west-1`,
            awsRoleArn: `arn:aws:iam::123456789012:role/pulumi-${stack}`,
            awsRegion: "eu-west-1",
        });
        const configs = ["staging", "production"].map((stack) => {
            const raw = readStackFile(stack);
            const values = { ...raw.values, "cicd-pipeline:backend": JSON.stringify(backend(stack)) };
            return parseConfig({ ...raw, values }, { requireSecrets: false });
        });
        const credentials = configs.flatMap(stackCredentials);
        const s3Files = workflowFilesForStack(configs[1]);
        const reach = reachability(s3Files, credentials);
        assert.deepEqual(reachabilityProblems(reach, credentials), []);
        assert.ok(!credentials.some((c) => c.name === "PULUMI_ACCESS_TOKEN"));
        const roles = reach.filter((r) => r.secret === "PULUMI_BACKEND_ROLE");
        assert.deepEqual(
            roles.map(
                (r) =>
                    `${r.workflow} ${r.job}: ${r.credential?.source && "value" in r.credential.source ? r.credential.source.value : ""}`,
            ),
            [
                "cd-production.yml deploy: arn:aws:iam::123456789012:role/pulumi-production",
                "cd-staging.yml deploy: arn:aws:iam::123456789012:role/pulumi-staging",
                "drift.yml staging: arn:aws:iam::123456789012:role/pulumi-staging",
                "drift.yml production: arn:aws:iam::123456789012:role/pulumi-production",
                "pulumi-preview.yml preview: arn:aws:iam::123456789012:role/pulumi-staging",
            ],
        );
    });

    it("reports a variable a job reads that its environment does not declare", () => {
        const unbound = edited(".github/workflows/cd-staging.yml", (doc) => {
            doc.jobs.build.environment = "preview";
        });
        const problems = reachabilityProblems(
            reachability(unbound, committed.credentials),
            committed.credentials,
        );
        assert.ok(
            problems.some((p) =>
                /cd-staging\.yml job build \(environment preview\) reads DOCKER_PASSWORD/.test(p),
            ),
            problems.join("\n"),
        );
    });

    it("is the table README shows (npm run render -- --reachability)", () => {
        const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");
        const table = reachabilityMarkdown(committed.reach, committed.credentials, committed.environments);
        assert.ok(
            readme.includes(table),
            "README's table differs: paste the output of npm run render -- --reachability",
        );
    });
});

describe("no run waiting for approval holds a concurrency group", () => {
    /**
     * GitHub keeps a job that waits at an environment's required reviewers in its concurrency group,
     * the workflow's or the job's: later runs of the group stay pending, and each newer pending run
     * cancels the previous one (https://docs.github.com/en/actions/how-tos/write-workflows/choose-when-workflows-run/control-workflow-concurrency;
     * observed in vstorm-co/agenticos#1832 and hypothesis/lms#4533). A rollback dispatched while a
     * release waits for approval would wait behind it for up to 30 days.
     */
    function groupsHeldWhileWaiting(all: Record<string, string>): string[] {
        const held: string[] = [];
        for (const [file, text] of Object.entries(all)) {
            const doc = YAML.parse(text) as {
                concurrency?: { group: string };
                jobs: Record<
                    string,
                    { environment?: string | { name: string }; concurrency?: { group: string } }
                >;
            };
            for (const [id, job] of Object.entries(doc.jobs)) {
                const name = typeof job.environment === "string" ? job.environment : job.environment?.name;
                const rules = committed.environments.find((e) => e.name === name);
                if (!rules || rules.reviewers === 0) continue;
                if (doc.concurrency)
                    held.push(`${file}: workflow group ${doc.concurrency.group} (job ${id} waits)`);
                if (job.concurrency) held.push(`${file}: job ${id}'s group ${job.concurrency.group}`);
            }
        }
        return held;
    }

    it("holds none in the committed workflows: the production deploy waits only for a running deploy", () => {
        assert.deepEqual(groupsHeldWhileWaiting(files), []);
        const deploy = YAML.parse(files[".github/workflows/cd-production.yml"]).jobs.deploy;
        const names = (deploy.steps as { name: string; id?: string }[]).map((s) => s.id ?? s.name);
        assert.ok(
            names.indexOf("Wait for an earlier production deploy to finish") < names.indexOf("previous"),
            "the wait comes before what changes the hosts",
        );
    });

    it("finds the workflow-wide group the earlier cd-production.yml had", () => {
        const old = edited(".github/workflows/cd-production.yml", (doc) => {
            doc.concurrency = { group: "cd-production", "cancel-in-progress": false };
        });
        assert.deepEqual(groupsHeldWhileWaiting(old), [
            ".github/workflows/cd-production.yml: workflow group cd-production (job deploy waits)",
        ]);
    });
});
