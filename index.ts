/**
 * The pipeline, per stack: GitHub secrets, branch protection, environments and workflow files for
 * the app's repository, and blue-green releases on the stack's hosts. Config is read and validated
 * once, here; components get plain values.
 */
import * as github from "@pulumi/github";
import * as pulumi from "@pulumi/pulumi";
import { loadConfig, PipelineConfig, proxyImagePinned } from "./config";
import { BlueGreenDeployment, hostReleaseSettings } from "./components/deploy/blue-green-deployment";
import { BranchRules, rulesetName } from "./components/repository/branch-rules";
import { DeploymentEnvironment } from "./components/repository/deployment-environment";
import { ReleaseTagRules } from "./components/repository/release-tag-rules";
import { RepositorySecrets } from "./components/repository/repository-secrets";
import {
    warnAboutClassicProtection,
    warnAboutUnmanagedDeploymentPolicies,
} from "./components/repository/unmanaged-protection";
import {
    deployHostSecretName,
    environmentSecretNames,
    repositorySecretNames,
} from "./components/secret-names";
import { requiredStatusChecks } from "./components/workflows/ci-jobs";
import { workflowFilesForStack } from "./components/workflows/render";
import { releaseTagPatterns } from "./components/workflows/settings";
import { WorkflowFiles } from "./components/workflows/workflow-files";

type Github = NonNullable<PipelineConfig["github"]>;
type Deploy = NonNullable<PipelineConfig["deploy"]>;

/** Declares the GitHub side: this stack's environment, and the repository-wide objects if it owns them. */
async function declareGithub(config: PipelineConfig, gh: Github, deploy: Deploy) {
    const { environment, secrets } = config;
    // An explicit provider reads no `github:` config of its own: the token is passed on, and
    // without one the provider falls back to GITHUB_TOKEN.
    const provider = new github.Provider("github", { owner: gh.owner, token: secrets.githubToken });
    const opts = { provider };

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
            secrets: {
                [environmentSecretNames.deploySshKey]: secrets.deploySshKey!,
                [environmentSecretNames.deployUser]: pulumi.secret(deploy.user),
                [deployHostSecretName(environment.name)]: pulumi.secret(
                    deploy.hosts.map((h) => h.address).join(","),
                ),
            },
        },
        opts,
    );
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
    if (!gh.ownsRepositoryObjects) {
        return {
            environmentSecrets: env.secretNames,
            repositorySecrets: [],
            protectedBranches: [],
            protectedTags: [],
        };
    }

    const repositorySecrets: Record<string, pulumi.Output<string>> = {};
    for (const key of Object.keys(repositorySecretNames) as (keyof typeof repositorySecretNames)[]) {
        const value = secrets[key];
        if (value) repositorySecrets[repositorySecretNames[key]] = value;
    }
    const repoSecrets = new RepositorySecrets(
        "repository",
        { repository: gh.repository, secrets: repositorySecrets },
        opts,
    );

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
        environmentSecrets: env.secretNames,
        repositorySecrets: repoSecrets.names,
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
            `without anyone's approval and reads the environment's secrets (${environmentSecretNames.deploySshKey} and the ` +
            `others) at once. What still protects it: only runs from ${from} may use the environment (its deployment ` +
            `policy), and only ${managers} may create, move or delete release tags (${releaseTagPatterns.join(", ")}) ` +
            `(the ruleset "${rulesetName(config.project, "release tags")}", declared by stack ${gh.repositoryObjectsStack}); ` +
            `${gh.branches.main} takes changes only by pull request with ${gh.requiredApprovals} approving review(s). ` +
            `For approvals before each deploy: GitHub Enterprise, or a public repository.`,
    );
}

/**
 * The version to serve: the one config names, or else the one this stack last released. A
 * `pulumi up` or `pulumi preview` without a version (by hand, or the pull-request preview) so keeps
 * what is deployed, instead of removing the deployment.
 */
async function releaseToServe(config: PipelineConfig): Promise<{ version?: string; digest?: string }> {
    if (config.release.version) return config.release;
    // A self-managed backend has no organization ("organization" stands in); its older layout
    // names stacks without one, and its newer layout accepts that form too.
    const organization = pulumi.getOrganization();
    const self = new pulumi.StackReference("deployed", {
        name:
            organization === "organization"
                ? pulumi.getStack()
                : `${organization}/${pulumi.getProject()}/${pulumi.getStack()}`,
    });
    const [version, digest] = await Promise.all(
        ["version", "digest"].map(async (name) => {
            const details = await self.getOutputDetails(name);
            return details.value ?? details.secretValue;
        }),
    );
    if (version === undefined && digest === undefined) return {};
    // Something was released: what it was must be readable, or this run would remove it.
    if (typeof version !== "string" || version === "" || typeof digest !== "string" || digest === "") {
        throw new Error(
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
        // A version read back from the stack keeps the digest it was released with.
        resolveDigest: deploy.resolveDigest && config.release.version !== undefined,
        settings: hostReleaseSettings(deploy),
        batchSize: deploy.batchSize,
    });
}

export = async () => {
    const config = loadConfig();
    const githubSide =
        config.github && config.deploy
            ? await declareGithub(config, config.github, config.deploy)
            : undefined;
    const deployment = config.deploy ? await declareDeployment(config, config.deploy) : undefined;
    const outputs = {
        /** The stack's environment, as the workflows and people see it. */
        environmentName: config.environment.name,
        environmentUrl: config.environment.url,
        /** Branches whose protection this stack declares. */
        protectedBranches: githubSide?.protectedBranches ?? [],
        /** Tag patterns only the release managers may create, move or delete. */
        protectedTags: githubSide?.protectedTags ?? [],
        /** Names (never values) of the Actions secrets this stack declares. */
        secretNames: {
            repository: githubSide?.repositorySecrets ?? [],
            environment: githubSide?.environmentSecrets ?? [],
        },
        /** The pull request that delivers changed workflow files, if one is open. */
        workflowsPullRequest: githubSide?.workflowsPullRequest,
        /** The version and image digest released to the hosts, and what each host serves. */
        version: deployment?.version,
        digest: deployment?.digest,
        liveVersions: deployment?.liveVersions,
    };
    // A stack without GitHub objects or hosts has no such outputs, rather than undefined ones.
    return Object.fromEntries(Object.entries(outputs).filter(([, value]) => value !== undefined));
};
