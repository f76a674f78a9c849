/**
 * The GitHub Actions secret names the pipeline uses. The repository component declares them and the
 * workflows read them from here, so a name is written once.
 */

/** Repository-level secrets: readable by every workflow of the repository. */
export const repositorySecretNames = {
    dockerUsername: "DOCKER_USERNAME",
    dockerPassword: "DOCKER_PASSWORD",
    slackWebhook: "SLACK_WEBHOOK",
    pulumiAccessToken: "PULUMI_ACCESS_TOKEN",
    pulumiBackendUrl: "PULUMI_BACKEND_URL",
    pulumiConfigPassphrase: "PULUMI_CONFIG_PASSPHRASE",
} as const;

/** Environment secrets: readable only by jobs bound to (and approved for) that environment. */
export const environmentSecretNames = {
    deploySshKey: "DEPLOY_SSH_KEY",
    deployUser: "DEPLOY_USER",
} as const;

/** The secret holding an environment's deploy hosts: DEPLOY_HOST_STAGING, DEPLOY_HOST_PROD, ... */
export function deployHostSecretName(environment: string): string {
    const suffix =
        environment === "production" ? "PROD" : environment.toUpperCase().replace(/[^A-Z0-9]/g, "_");
    return `DEPLOY_HOST_${suffix}`;
}
