/**
 * zizmor (a GitHub Actions security analyser) and actionlint (with shellcheck) over every file each
 * committed stack renders (what `npm run render -- --out DIR --stack S` writes), and over variants
 * of the settings. zizmor's default persona must find nothing with inline ignores disregarded; its
 * auditor persona must find no `secrets-outside-env` at all, and every other auditor finding must be
 * one the workflow model accepts with a reason (rendered as `# zizmor: ignore[rule] reason`).
 */
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { renderWorkflowFiles, workflowModels } from "../../components/workflows/render";
import { actionlint, writeTree, zizmor } from "./analysers";
import { renderedByStack, settings } from "./workflow-helpers";

const variants = {
    slack: settings({ slack: true }),
    s3: settings({ backend: "s3" }),
    other: settings({
        pulumiDir: "deploy/pulumi",
        image: "ghcr.io/acme/web-app",
        registry: "ghcr.io",
        slack: true,
        developBranch: "dev",
        releaseTags: ["release-*"],
    }),
};

/** Every file set to analyse: each committed stack's rendered files, then the variants. */
const trees: { what: string; files: Record<string, string>; accepted: Set<string> }[] = [
    ...Object.entries(renderedByStack()).map(([stack, files]) => ({
        what: `stack ${stack}`,
        files,
        accepted: acceptedRules(settings()),
    })),
    ...Object.entries(variants).map(([name, s]) => ({
        what: `${name} settings`,
        files: renderWorkflowFiles(s),
        accepted: acceptedRules(s),
    })),
];

/** The rules the workflow model accepts with a reason, workflow- or step-level. */
function acceptedRules(s: ReturnType<typeof settings>): Set<string> {
    const rules = new Set<string>();
    for (const w of Object.values(workflowModels(s))) {
        for (const a of w.accepts ?? []) rules.add(a.rule);
        for (const job of Object.values(w.jobs))
            for (const step of job.steps) for (const a of step.accepts ?? []) rules.add(a.rule);
    }
    return rules;
}

describe("workflow analysers", function () {
    this.timeout(120000);

    it("renders files for the owning stack and none for the other, so both stacks are covered", () => {
        const byStack = renderedByStack();
        assert.ok(Object.keys(byStack.production).length >= 6);
        assert.deepEqual(byStack.staging, {});
    });

    describe("zizmor", () => {
        for (const { what, files, accepted } of trees) {
            if (Object.keys(files).length === 0) continue;
            it(`finds nothing at the default persona, ignore comments disregarded (${what})`, () => {
                const dir = writeTree(files);
                try {
                    assert.deepEqual(zizmor(dir, { persona: "regular", ignores: false }), []);
                } finally {
                    fs.rmSync(dir, { recursive: true, force: true });
                }
            });

            it(`finds no secrets-outside-env and only accepted findings at the auditor persona (${what})`, () => {
                const dir = writeTree(files);
                try {
                    const all = zizmor(dir, { persona: "auditor", ignores: false });
                    assert.deepEqual(
                        all.filter((f) => f.rule === "secrets-outside-env"),
                        [],
                    );
                    assert.deepEqual(
                        all.filter((f) => !accepted.has(f.rule)),
                        [],
                        "findings no workflow accepts",
                    );
                    // Every acceptance is of a real finding, and its comment silences it.
                    assert.deepEqual([...new Set(all.map((f) => f.rule))].sort(), [...accepted].sort());
                    assert.deepEqual(zizmor(dir, { persona: "auditor", ignores: true }), []);
                } finally {
                    fs.rmSync(dir, { recursive: true, force: true });
                }
            });
        }

        it("does report secrets outside an environment and a cache in a release workflow, so a clean result means something", () => {
            const dir = writeTree({
                ".github/workflows/release.yml": [
                    "on:",
                    "  push:",
                    "    tags: [v*]",
                    "permissions: {}",
                    "jobs:",
                    "  release:",
                    "    runs-on: ubuntu-latest",
                    "    permissions: {}",
                    "    steps:",
                    "      - uses: actions/setup-node@820762786026740c76f36085b0efc47a31fe5020 # v7.0.0",
                    "        with:",
                    "          node-version: '24'",
                    "          cache: npm",
                    "      - run: npm publish",
                    "        env:",
                    "          NPM_TOKEN: ${{ secrets.NPM_TOKEN }}",
                    "",
                ].join("\n"),
            });
            try {
                const rules = zizmor(dir, { persona: "auditor", ignores: false }).map((f) => f.rule);
                assert.ok(rules.includes("secrets-outside-env"), rules.join(", "));
                assert.ok(rules.includes("cache-poisoning"), rules.join(", "));
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });
    });

    describe("actionlint, with shellcheck on run: scripts", () => {
        for (const { what, files } of trees) {
            if (Object.keys(files).length === 0) continue;
            it(`finds nothing (${what})`, () => {
                const dir = writeTree(files);
                try {
                    assert.deepEqual(actionlint(Object.keys(files).map((p) => path.join(dir, p))), []);
                } finally {
                    fs.rmSync(dir, { recursive: true, force: true });
                }
            });
        }

        it("does report an injectable expression and a shell error, so a clean result means something", () => {
            const dir = writeTree({
                ".github/workflows/broken.yml":
                    "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n" +
                    "      - run: echo ${{ github.event.head_commit.message }}\n" +
                    '      - run: if [ "$x" = 1 ]; then echo; fi; cd $undefined_dir\n',
            });
            try {
                const found = actionlint([path.join(dir, ".github/workflows/broken.yml")]).join("\n");
                assert.match(found, /potentially untrusted/);
                assert.match(found, /shellcheck/);
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });
    });
});
