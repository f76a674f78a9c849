/**
 * The pipeline, per stack: GitHub secrets, branch protection, environments and workflow files for
 * the app's repository, and blue-green releases on the stack's hosts. Config is read and validated
 * once, here; components get plain values.
 */
import * as github from "@pulumi/github";
import * as pulumi from "@pulumi/pulumi";
import { loadConfig, PipelineConfig, proxyImagePinned, secretNames } from "./config";
import { BlueGreenDeployment, hostReleaseSettings } from "./components/deploy/blue-green-deployment";
import { DeclaredCredential, extraEnvironments, stackCredentials } from "./components/credentials";
import { BranchRules, rulesetName } from "./components/repository/branch-rules";
import { DeploymentEnvironment } from "./components/repository/deployment-environment";
import { ReleaseTagRules } from "./components/repository/release-tag-rules";
import {
    warnAboutClassicProtection,
    warnAboutUnmanagedDeploymentPolicies,
} from "./components/repository/unmanaged-protection";
import { requiredStatusChecks } from "./components/workflows/ci-jobs";
import { workflowFilesForStack } from "./components/workflows/render";
import { releaseTagPatterns } from "./components/workflows/settings";
import { WorkflowFiles } from "./components/workflows/workflow-files";

type Github = NonNullable<PipelineConfig["github"]>;
type Deploy = NonNullable<PipelineConfig["deploy"]>;

/** The value of a declared secret or variable, from the stack's config. */
function credentialValue(config: PipelineConfig, c: DeclaredCredential): pulumi.Input<string> {
    if ("value" in c.source) return c.source.value;
    const value = config.secrets[c.source.secret];
    // config/ requires every secret stackCredentials lists, so a gap is a bug here.
    if (!value) throw new Error(`${c.name} (${c.environment}): config key ${c.source.secret} has no value`);
    return value;
}

/** The secrets and variables of one environment, from the stack's declared credentials. */
function environmentCredentials(
    config: PipelineConfig,
    credentials: DeclaredCredential[],
    environment: string,
) {
    const of = (kind: DeclaredCredential["kind"]) =>
        Object.fromEntries(
            credentials
                .filter((c) => c.environment === environment && c.kind === kind)
                .map((c) => [c.name, credentialValue(config, c)]),
        );
    return {
        secrets: of("secret") as Record<string, pulumi.Output<string>>,
        variables: of("variable") as Record<string, string>,
    };
}

/** Declares an environment's variables: values that are not secret (they are in the stack file). */
function declareVariables(
    parent: DeploymentEnvironment,
    repository: string,
    environment: string,
    variables: Record<string, string>,
    opts: { provider: github.Provider },
): void {
    for (const variableName of Object.keys(variables).sort()) {
        new github.ActionsEnvironmentVariable(
            `${environment}-var-${variableName.toLowerCase().replace(/_/g, "-")}`,
            { repository, environment: parent.name, variableName, value: variables[variableName] },
            { ...opts, parent },
        );
    }
}

/** Declares the GitHub side: this stack's environments, and the repository-wide objects if it owns them. */
async function declareGithub(config: PipelineConfig, gh: Github) {
    const { environment } = config;
    // An explicit provider reads no `github:` config of its own (config/secrets.ts refuses github:token):
    // it takes the token of whoever runs `pulumi up` from GITHUB_TOKEN.
    const provider = new github.Provider("github", { owner: gh.owner });
    const opts = { provider };
    const credentials = stackCredentials(config);

    const own = environmentCredentials(config, credentials, environment.name);
    const env = new DeploymentEnvironment(
        environment.name,
        {
            repository: gh.repository,
            environment: environment.name,
            branchPatterns: environment.deployFrom.branches,
            tagPatterns: environment.deployFrom.tags,
            reviewerLogins: environment.reviewers.users,
            reviewerTeams: environment.reviewers.teams,
            preventSelfReview: environment.preventSelfReview,
            adminsBypass: environment.adminsBypass,
            waitTimerMinutes: environment.waitTimerMinutes,
            protectionRules: gh.features.environmentProtection,
            secrets: own.secrets,
        },
        opts,
    );
    declareVariables(env, gh.repository, environment.name, own.variables, opts);
    warnUnprotectedEnvironment(config, gh);
    await warnAboutUnmanagedDeploymentPolicies(
        {
            owner: gh.owner,
            repository: gh.repository,
            environment: environment.name,
            declared: deploymentRefs(environment),
        },
        opts,
    );
    for (const extra of extraEnvironments(config)) {
        const declared = environmentCredentials(config, credentials, extra.name);
        const other = new DeploymentEnvironment(
            extra.name,
            {
                repository: gh.repository,
                environment: extra.name,
                branchPatterns: [...extra.branchPatterns],
                tagPatterns: [...extra.tagPatterns],
                secrets: declared.secrets,
            },
            opts,
        );
        declareVariables(other, gh.repository, extra.name, declared.variables, opts);
    }
    if (!gh.ownsRepositoryObjects) {
        return { protectedBranches: [], protectedTags: [], workflowsPullRequest: undefined };
    }

    await warnAboutClassicProtection(
        {
            owner: gh.owner,
            repository: gh.repository,
            rulesets: {
                [gh.branches.main]: rulesetName(config.project, gh.branches.main),
                [gh.branches.develop]: rulesetName(config.project, gh.branches.develop),
            },
        },
        opts,
    );
    // Rulesets, named after the project so that they stand apart from any the repository has.
    const main = new BranchRules(
        "main",
        {
            repository: gh.repository,
            branch: gh.branches.main,
            rulesetName: rulesetName(config.project, gh.branches.main),
            requiredChecks: requiredStatusChecks,
            requiredApprovals: gh.requiredApprovals,
            requireUpToDate: true,
            includeAdministrators: true,
        },
        opts,
    );
    const develop = new BranchRules(
        "develop",
        {
            repository: gh.repository,
            branch: gh.branches.develop,
            rulesetName: rulesetName(config.project, gh.branches.develop),
            requiredChecks: requiredStatusChecks,
            requiredApprovals: 0,
        },
        opts,
    );
    new ReleaseTagRules(
        "release-tags",
        {
            repository: gh.repository,
            rulesetName: rulesetName(config.project, "release tags"),
            tagPatterns: releaseTagPatterns,
            roles: gh.releaseManagers.roles,
            teams: gh.releaseManagers.teams,
        },
        opts,
    );
    const workflowFiles = new WorkflowFiles(
        "workflows",
        {
            owner: gh.owner,
            repository: gh.repository,
            baseBranch: gh.branches.main,
            files: workflowFilesForStack(config),
        },
        opts,
    );
    return {
        protectedBranches: pulumi.all([main.branch, develop.branch]),
        protectedTags: releaseTagPatterns,
        workflowsPullRequest: workflowFiles.pullRequestNumber,
    };
}

/** The refs an environment deploys from, as "branch develop" and "tag v*". */
function deploymentRefs(env: PipelineConfig["environment"]): string[] {
    return [
        ...env.deployFrom.branches.map((b) => `branch ${b}`),
        ...env.deployFrom.tags.map((t) => `tag ${t}`),
    ];
}

/**
 * Says, in every preview and update, what is left unprotected when the repository's plan has no
 * required reviewers for an environment that would have them, and what still protects it.
 */
function warnUnprotectedEnvironment(config: PipelineConfig, gh: Github): void {
    const env = config.environment;
    if (gh.features.environmentProtection) return;
    if (env.name !== "production" && env.deployFrom.tags.length === 0) return;
    const from = deploymentRefs(env).join(", ");
    const managers = [
        ...gh.releaseManagers.roles.map((r) => `the repository ${r} role`),
        ...gh.releaseManagers.teams.map((t) => `team ${t}`),
    ].join(", ");
    pulumi.log.warn(
        `UNPROTECTED: environment "${env.name}" has no required reviewers and no wait timer: GitHub ${gh.plan} offers neither ` +
            `for ${gh.visibility} repositories (github.plan, github.visibility). A deploy job bound to "${env.name}" runs ` +
            `without anyone's approval and reads the environment's secrets (${secretNames.deploySshKey} and the ` +
            `others) at once. What still protects it: only runs from ${from} may use the environment (its deployment ` +
            `policy), and only ${managers} may create, move or delete release tags (${releaseTagPatterns.join(", ")}) ` +
            `(the ruleset "${rulesetName(config.project, "release tags")}", declared by stack ${gh.repositoryObjectsStack}); ` +
            `${gh.branches.main} takes changes only by pull request with ${gh.requiredApprovals} approving review(s). ` +
            `For approvals before each deploy: GitHub Enterprise, or a public repository.`,
    );
}

/** This stack's own outputs as the backend holds them (before this run). */
let selfReference: pulumi.StackReference | undefined;
function deployedOutputs(): pulumi.StackReference {
    // A self-managed backend has no organization ("organization" stands in); its older layout
    // names stacks without one, and its newer layout accepts that form too.
    const organization = pulumi.getOrganization();
    selfReference ??= new pulumi.StackReference("deployed", {
        name:
            organization === "organization"
                ? pulumi.getStack()
                : `${organization}/${pulumi.getProject()}/${pulumi.getStack()}`,
    });
    return selfReference;
}

async function previousOutput(name: string): Promise<unknown> {
    const details = await deployedOutputs().getOutputDetails(name);
    return details.value ?? details.secretValue;
}

/**
 * The version to serve: the one config names, or else the one this stack last released. A
 * `pulumi up` or `pulumi preview` without a version (by hand, or the pull-request preview) so keeps
 * what is deployed, instead of removing the deployment.
 */
async function releaseToServe(config: PipelineConfig): Promise<{ version?: string; digest?: string }> {
    if (config.release.version) return config.release;
    const [version, digest] = await Promise.all(["version", "digest"].map(previousOutput));
    if (version === undefined && digest === undefined) return {};
    // Something was released: what it was must be readable, or this run would remove it.
    if (typeof version !== "string" || version === "" || typeof digest !== "string" || digest === "") {
        // RunError: a plain message for the user, without the program's stack trace.
        throw new pulumi.RunError(
            `no version is configured and the stack's last release cannot be read back ` +
                `(version ${JSON.stringify(version)}, digest ${JSON.stringify(digest)}); ` +
                `name the version to serve: pulumi up -s ${pulumi.getStack()} -c version=<tag>`,
        );
    }
    return { version, digest };
}

/** Blue-green releases of the version to serve on the stack's hosts, once there is one. */
async function declareDeployment(config: PipelineConfig, deploy: Deploy) {
    if (!proxyImagePinned(deploy.proxyImage)) {
        // Allowed only by deploy.allowUnpinnedProxyImage; said on every preview and update.
        pulumi.log.warn(
            `deploy.proxyImage ${deploy.proxyImage} is not pinned by digest: whoever can move that tag ` +
                `changes the proxy in front of the app on every host. Pin it: ${deploy.proxyImage}@sha256:<digest>`,
        );
    }
    const release = await releaseToServe(config);
    if (!release.version) {
        pulumi.log.info("no version configured and none released yet: nothing to release to the hosts");
        return undefined;
    }
    return new BlueGreenDeployment(config.environment.name, {
        hosts: deploy.hosts,
        user: deploy.user,
        privateKey: config.secrets.deploySshKey!,
        image: deploy.image,
        version: release.version,
        digest: release.digest,
        // A version read back from the stack keeps the digest it was released with, and a digest the
        // CD workflow passes (the one it pushed, or the one a release recorded) is deployed as given:
        // the tag may point elsewhere today.
        resolveDigest: deploy.resolveDigest && config.release.version !== undefined,
        settings: hostReleaseSettings(deploy),
        batchSize: deploy.batchSize,
        ...(deploy.strategy === "canary" && { canary: deploy.canary }),
    });
}

/** Names (never values) of the secrets and variables the stack declares, by environment. */
function credentialNames(config: PipelineConfig, kind: DeclaredCredential["kind"]): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const c of stackCredentials(config).filter((x) => x.kind === kind)) {
        (out[c.environment] ??= []).push(c.name);
    }
    for (const names of Object.values(out)) names.sort();
    return out;
}

export = async () => {
    const config = loadConfig();
    // The CD workflows' `pulumi up --target <deployment>` sets releaseOnly: the program then declares
    // the release alone and calls no GitHub API, so the deploy needs no GitHub credential. The
    // GitHub objects in the state stay as they are: a targeted update gives every resource it does
    // not target, registered or not, an untargeted same step instead of a delete
    // (pulumi/pulumi pkg/resource/deploy/step_generator.go, GenerateDeletes, v3.274.1).
    const githubSide =
        config.github && config.deploy && !config.releaseOnly
            ? await declareGithub(config, config.github)
            : undefined;
    const deployment = config.deploy ? await declareDeployment(config, config.deploy) : undefined;
    // Stack outputs are always updated, targeted or not: a release-only run keeps what the last
    // full run reported about the GitHub side rather than dropping it.
    const kept = async (name: string) => (config.releaseOnly ? previousOutput(name) : undefined);
    const outputs = {
        /** The stack's environment, as the workflows and people see it. */
        environmentName: config.environment.name,
        environmentUrl: config.environment.url,
        /** Branches whose protection this stack declares. */
        protectedBranches: (await kept("protectedBranches")) ?? githubSide?.protectedBranches ?? [],
        /** Tag patterns only the release managers may create, move or delete. */
        protectedTags: (await kept("protectedTags")) ?? githubSide?.protectedTags ?? [],
        /** Names (never values) of the Actions secrets and variables this stack declares, by environment. */
        secretNames: credentialNames(config, "secret"),
        variableNames: credentialNames(config, "variable"),
        /** The pull request that delivers changed workflow files, if one is open. */
        workflowsPullRequest: (await kept("workflowsPullRequest")) ?? githubSide?.workflowsPullRequest,
        /** The version and image digest released to the hosts, and what each host serves. */
        version: deployment?.version,
        digest: deployment?.digest,
        liveVersions: deployment?.liveVersions,
        /** The colour each host serves from: scripts/drift.sh compares it with what the hosts report. */
        liveColours: deployment?.liveColours,
    };
    // A stack without GitHub objects or hosts has no such outputs, rather than undefined ones.
    return Object.fromEntries(Object.entries(outputs).filter(([, value]) => value !== undefined));
};
