/**
 * The production stack run the way `pulumi up` runs it, against a model of a real repository and
 * of the GitHub provider (test/fake-github.ts, which cites the provider source it models): a
 * repository someone protected by hand, a repository on a plan without environment protection,
 * and a second run after the first.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as YAML from "yaml";
import { BranchProtection } from "@pulumi/github";
import * as pulumi from "@pulumi/pulumi";
import { buildStack, githubTeamIds, testSecrets } from "../../testkit/mocks";
import { EngineMocks, FakeGithub } from "../fake-github";
import { GithubPlan, RepositoryVisibility } from "../../components/repository/github-plan";

const types = {
    protection: "github:index/branchProtection:BranchProtection",
    ruleset: "github:index/repositoryRuleset:RepositoryRuleset",
    environment: "github:index/repositoryEnvironment:RepositoryEnvironment",
};

/** The production stack's file, changed by `edit`, with the test secrets. */
function production(
    edit: (github: Record<string, unknown>, env: Record<string, unknown>) => void = () => {},
) {
    // Reads the committed file through buildStack's overrides: the github and environment keys are
    // replaced by edited copies.
    const file = YAML.parse(fs.readFileSync(`${__dirname}/../../Pulumi.production.yaml`, "utf8"));
    const github = { ...file.config["cicd-pipeline:github"] };
    const env = { ...file.config["cicd-pipeline:environment"] };
    edit(github, env);
    return {
        ...testSecrets("production"),
        github: { value: JSON.stringify(github) },
        environment: { value: JSON.stringify(env) },
    };
}

/** One `pulumi up` of the production stack against the repository; resolves when it has run. */
async function up(github: FakeGithub, overrides = production()): Promise<EngineMocks> {
    const mocks = new EngineMocks(github);
    // A failed resource's outputs never resolve, so a run that failed ends once it has been quiet.
    const done = buildStack("production", overrides, {}, mocks).then(
        () => true,
        () => true,
    );
    for (let quiet = 0; quiet < 5;) {
        if (await Promise.race([done, new Promise<false>((r) => setTimeout(() => r(false), 200))])) break;
        if (mocks.failures.length > 0) quiet++;
    }
    if (mocks.failures.length === 0) mocks.finish();
    return mocks;
}

/** Runs `declare` as a program against `mocks`, and resolves when its resources have registered. */
async function runWith(mocks: EngineMocks, declare: () => unknown): Promise<EngineMocks> {
    pulumi.runtime.setAllConfig({}, []);
    await pulumi.runtime.setMocks(mocks, "cicd-pipeline", "production", false);
    declare();
    await new Promise((r) => setTimeout(r, 50));
    await pulumi.runtime.disconnect().catch(() => undefined);
    return mocks;
}

/** The warnings `run` logs. */
async function capturingWarnings(run: () => Promise<unknown>): Promise<string[]> {
    const warnings: string[] = [];
    const warn = pulumi.log.warn;
    pulumi.log.warn = (message: string) => {
        warnings.push(message);
        return Promise.resolve();
    };
    try {
        await run();
    } finally {
        pulumi.log.warn = warn;
    }
    return warnings;
}

const changes = (mocks: EngineMocks) => mocks.steps.filter((s) => s.op !== "same");

describe("adopting an existing repository", () => {
    it("a first pulumi up succeeds on a repository whose main and develop are protected by hand", async () => {
        const github = new FakeGithub();
        github.protectByHand("main");
        github.protectByHand("develop");
        const first = await up(github);
        assert.deepStrictEqual(first.failures, []);
        assert.deepStrictEqual(
            github.rulesets.map((r) => [r.name, r.target, r.conditions.refName.includes]),
            [
                ["cicd-pipeline: main", "branch", ["refs/heads/main"]],
                ["cicd-pipeline: develop", "branch", ["refs/heads/develop"]],
                ["cicd-pipeline: release tags", "tag", ["refs/tags/v*"]],
            ],
        );
        // The hand-made rules stay: GitHub layers both, the stricter requirement wins.
        assert.deepStrictEqual(
            github.classicRules.map((r) => r.pattern),
            ["main", "develop"],
        );
    });

    it("names each classic rule left beside a ruleset, with the command that deletes it", async () => {
        const github = new FakeGithub();
        github.protectByHand("main");
        github.protectByHand("develop");
        github.protectByHand("release/*");
        const warnings = await capturingWarnings(() => up(github));
        const classic = warnings.filter((w) => w.includes("classic branch protection rule"));
        assert.deepStrictEqual(
            classic.map((w) => /gh api -X DELETE (\S+)/.exec(w)?.[1]),
            ["repos/acme/web-app/branches/main/protection", "repos/acme/web-app/branches/develop/protection"],
        );
        assert.match(classic[0], /ruleset "cicd-pipeline: main"/);
        // release/* covers neither main nor develop, so it is not named.
        assert.ok(!classic.some((w) => w.includes("release/*")));
        // Once they are deleted, the next run says nothing about them.
        github.classicRules.splice(0, 2);
        const after = await capturingWarnings(() => up(github));
        assert.deepStrictEqual(
            after.filter((w) => w.includes("classic branch protection rule")),
            [],
        );
    });

    it("names a wildcard classic rule that covers main, with where to remove it", async () => {
        const github = new FakeGithub();
        github.protectByHand("*");
        const warnings = await capturingWarnings(() => up(github));
        const classic = warnings.filter((w) => w.includes("classic branch protection rule"));
        assert.strictEqual(classic.length, 2, classic.join("\n"));
        assert.match(classic[0], /branch main .*pattern "\*".*Settings > Branches > the rule "\*" > Delete/);
        assert.ok(!classic.some((w) => w.includes("gh api")), "a wildcard rule has no branch endpoint");
    });

    it("names deployment policies of an adopted environment that the stack does not declare", async () => {
        const github = new FakeGithub();
        github.environmentByHand("production", ["branch main", "tag v*"]);
        const warnings = await capturingWarnings(() => up(github));
        const policies = warnings.filter((w) => w.startsWith("environment production also lets"));
        assert.strictEqual(policies.length, 1, warnings.join("\n"));
        assert.match(policies[0], /also lets branch main deploy/);
        // The adopted environment now has the stack's protection (CreateUpdateEnvironment is a PUT).
        assert.deepStrictEqual(github.environments.get("production")?.reviewers, {
            users: [1001],
            teams: [githubTeamIds["release-managers"]],
        });
    });

    it("a second pulumi up changes nothing and replaces nothing", async () => {
        const github = new FakeGithub();
        github.protectByHand("main");
        await up(github);
        const rulesetIds = github.rulesets.map((r) => r.id);
        const second = await up(github);
        assert.deepStrictEqual(second.failures, []);
        assert.deepStrictEqual(changes(second), []);
        assert.ok(second.steps.some((s) => s.type === types.ruleset && s.op === "same"));
        assert.deepStrictEqual(
            github.rulesets.map((r) => r.id),
            rulesetIds,
        );
    });

    it("a ruleset brought in with the import command README gives is not replaced by the next up", async () => {
        // The stack's state was lost, but the rulesets it created are still on GitHub: a create
        // would fail ("Name must be unique"); importing them by "<repository>:<ruleset id>" adopts them.
        const github = new FakeGithub();
        await up(github);
        const ids = new Map(github.rulesets.map((r) => [r.name, r.id]));
        github.stack.clear();
        const failed = await up(github);
        assert.ok(
            failed.failures.some((f) => /Name must be unique/.test(f.message)),
            JSON.stringify(failed.failures),
        );
        // Nothing else fails but the environment variables the lost stack created, whose values
        // the stack file holds: README's `gh variable delete` lets the next up create them again.
        assert.deepStrictEqual(
            failed.failures
                .filter((f) => !/Name must be unique/.test(f.message))
                .map((f) => f.message.replace(/ - .*/, "")),
            [...github.variables.keys()].map(() => "409 Conflict: Already exists"),
        );
        github.variables.clear();
        github.stack.clear();
        github.import("main-ruleset", types.ruleset, `web-app:${ids.get("cicd-pipeline: main")}`);
        github.import("develop-ruleset", types.ruleset, `web-app:${ids.get("cicd-pipeline: develop")}`);
        github.import(
            "release-tags-ruleset",
            types.ruleset,
            `web-app:${ids.get("cicd-pipeline: release tags")}`,
        );
        const after = await up(github);
        assert.deepStrictEqual(after.failures, []);
        assert.deepStrictEqual(
            after.steps.filter((s) => s.type === types.ruleset).map((s) => [s.name, s.op]),
            [
                ["main-ruleset", "same"],
                ["develop-ruleset", "same"],
                ["release-tags-ruleset", "same"],
            ],
        );
        assert.strictEqual(github.rulesets.length, 3);
    });

    it("README's import command names the resource, parent and provider the program declares", async () => {
        const readme = fs.readFileSync(`${__dirname}/../../README.md`, "utf8");
        const command =
            /pulumi import -s production '([^']+)' (\S+) "([^"]+)" \\\n\s+--parent '(\w[\w-]*)=urn:pulumi:production::cicd-pipeline::([^:]+:[^:]+:[^:]+)::([\w-]+)' \\\n\s+--provider '(\w+)=urn:pulumi:production::cicd-pipeline::pulumi:providers:github::(\w+)'/.exec(
                readme,
            );
        assert.ok(command, "README has no import command of the expected shape");
        const [, type, name, id, , parentType, parentName, , providerName] = command;
        const built = await buildStack("production");
        const declared = (t: string, n: string) =>
            built.mocks.resources.some((r) => r.type === t && r.name === n);
        assert.ok(declared(type, name), `the program declares no ${type} named ${name}`);
        assert.ok(
            declared(parentType, parentName),
            `the program declares no ${parentType} named ${parentName}`,
        );
        assert.ok(
            declared("pulumi:providers:github", providerName),
            `no github provider named ${providerName}`,
        );
        // The importer's ID: "<repository>:<ruleset id>" (resource_github_repository_ruleset.go:851-862).
        assert.strictEqual(id, "web-app:$id");
    });

    it("moves a stack that declared classic protection to rulesets: rulesets first, classic rules deleted last", async () => {
        const github = new FakeGithub();
        // What an earlier version of this program left in the state: classic rules it created.
        github.stack.set(
            "main-rule",
            github.create(types.protection, { repositoryId: "web-app", pattern: "main" }),
        );
        github.stack.set(
            "develop-rule",
            github.create(types.protection, { repositoryId: "web-app", pattern: "develop" }),
        );
        const run = await up(github);
        assert.deepStrictEqual(run.failures, []);
        const ops = run.steps.map((s) => `${s.op} ${s.name}`);
        assert.ok(ops.indexOf("delete main-rule") > ops.indexOf("create main-ruleset"), ops.join("\n"));
        assert.deepStrictEqual(github.classicRules, []);
        assert.strictEqual(github.rulesets.length, 3);
    });

    it("models the failure rulesets avoid: classic protection cannot be adopted", async () => {
        // The model reproduces integrations/terraform-provider-github#1699, so that the tests above
        // mean something: creating a classic rule fails on a protected pattern; after `pulumi import`
        // the importer stores the repository's node ID where the program passes its name, which
        // forces a replacement that creates before it deletes, and fails again.
        const github = new FakeGithub();
        github.protectByHand("main");
        const declareClassic = () =>
            new BranchProtection("main-rule", { repositoryId: "web-app", pattern: "main" });
        const first = await runWith(new EngineMocks(github), declareClassic);
        assert.deepStrictEqual(
            first.failures.map((f) => f.message),
            ["Name already protected: main"],
        );

        github.import("main-rule", types.protection, "web-app:main");
        assert.strictEqual(github.stack.get("main-rule")?.state.repositoryId, github.repositoryNodeId);
        const second = await runWith(new EngineMocks(github), declareClassic);
        assert.deepStrictEqual(
            second.failures.map((f) => f.message),
            ["Name already protected: main"],
        );
        assert.deepStrictEqual(
            github.classicRules.map((r) => r.pattern),
            ["main"],
        );
    });
});

describe("plans without environment protection", () => {
    const onPlan = (plan: GithubPlan, visibility: RepositoryVisibility) =>
        production((gh, env) => {
            gh.plan = plan;
            gh.visibility = visibility;
            delete env.reviewers;
        });

    it("GitHub answers 422 to the committed production environment on a private Team repository", async () => {
        // The model's 422 is real: with reviewers declared, GitHub Team refuses the environment.
        const github = new FakeGithub("team", "private");
        assert.throws(
            () =>
                github.create(types.environment, {
                    environment: "production",
                    reviewers: [{ users: [1001], teams: [] }],
                    preventSelfReview: true,
                }),
            /422 Failed to create the environment protection rule/,
        );
    });

    for (const plan of ["pro", "team"] as const) {
        it(`on GitHub ${plan}, a private repository's production has no reviewers and the up succeeds`, async () => {
            const github = new FakeGithub(plan, "private");
            const run = await up(github, onPlan(plan, "private"));
            assert.deepStrictEqual(run.failures, []);
            const env = github.environments.get("production")!;
            assert.deepStrictEqual(env, {
                reviewers: undefined,
                waitTimer: 0,
                preventSelfReview: false,
                canAdminsBypass: false,
            });
            assert.strictEqual(github.rulesets.length, 3, "rulesets are on every paid plan");
            assert.deepStrictEqual(changes(await up(github, onPlan(plan, "private"))), []);
        });
    }

    it("warns in the preview what is unprotected and what still protects production", async () => {
        const warnings = await capturingWarnings(() =>
            up(new FakeGithub("team", "private"), onPlan("team", "private")),
        );
        const warning = warnings.find((w) => w.startsWith("UNPROTECTED"));
        assert.ok(warning, warnings.join("\n"));
        for (const fragment of [
            'environment "production" has no required reviewers and no wait timer',
            "GitHub team offers neither for private repositories",
            "DEPLOY_SSH_KEY",
            "only runs from tag v* may use the environment",
            "the repository admin role, team release-managers",
            'the ruleset "cicd-pipeline: release tags"',
            "main takes changes only by pull request with 2 approving review(s)",
        ])
            assert.ok(warning.includes(fragment), `${warning}\n  does not say: ${fragment}`);
    });

    it("a public repository keeps its reviewers and warns nothing", async () => {
        const github = new FakeGithub("free", "public");
        let run: EngineMocks | undefined;
        const warnings = await capturingWarnings(async () => {
            run = await up(
                github,
                production((gh) => {
                    gh.plan = "free";
                    gh.visibility = "public";
                }),
            );
        });
        assert.deepStrictEqual(warnings, []);
        assert.deepStrictEqual(run?.failures, []);
        assert.deepStrictEqual(github.environments.get("production")?.reviewers, {
            users: [1001],
            teams: [githubTeamIds["release-managers"]],
        });
        assert.strictEqual(github.environments.get("production")?.preventSelfReview, true);
    });

    for (const plan of ["free", "pro", "team", "enterprise"] as const) {
        for (const visibility of ["public", "private"] as const) {
            it(`GitHub ${plan}, ${visibility}: config accepts exactly what GitHub does, and the up then succeeds`, async () => {
                const github = new FakeGithub(plan, visibility);
                const offers = github.features();
                const overrides = production((gh, env) => {
                    gh.plan = plan;
                    gh.visibility = visibility;
                    if (!offers.environmentProtection) delete env.reviewers;
                });
                const run = await up(github, overrides);
                const refused = run.resources.length === 0;
                assert.strictEqual(refused, !(offers.environments && offers.rulesets));
                if (!refused) assert.deepStrictEqual(run.failures, []);
            });
        }
    }

    it("refuses a private repository on GitHub Free, which has no environments for its secrets", async () => {
        await assert.rejects(buildStack("production", onPlan("free", "private")), (e: unknown) => {
            // buildStack loads the program afresh, so the error's class is that load's ConfigError.
            assert.ok(e instanceof Error && e.name === "ConfigError", String(e));
            assert.ok(e instanceof Error && "problems" in e);
            const problem = (e.problems as string[]).find((p) => p.startsWith("cicd-pipeline:github.plan:"));
            assert.ok(problem, String(e));
            assert.match(problem, /no environments, environment secrets or rulesets in private repositories/);
            assert.match(problem, /make the repository public/);
            return true;
        });
    });
});

describe("Actions secrets and changes made outside Pulumi", () => {
    it("a refresh with nothing changed elsewhere reports no drift, and the next up changes nothing", async () => {
        const github = new FakeGithub();
        await up(github);
        const before = JSON.stringify([...github.stack]);
        github.refresh();
        assert.strictEqual(JSON.stringify([...github.stack]), before, "the refresh changed the state");
        const second = await up(github);
        assert.deepStrictEqual(changes(second), []);
    });

    it("a secret changed in GitHub's settings is noticed by a refresh and written back by the next up", async () => {
        const github = new FakeGithub();
        await up(github);
        github.changeSecretByHand("production:DOCKER_PASSWORD", "typed-in-the-browser");
        github.refresh();
        const second = await up(github);
        assert.deepStrictEqual(
            changes(second).map((s) => [s.op, s.name, s.diffs]),
            [["update", "production-docker-password", ["updatedAt"]]],
        );
        assert.strictEqual(
            github.secrets.get("production:DOCKER_PASSWORD")?.value,
            "registry-password-production",
        );
    });
});
