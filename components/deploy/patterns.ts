/**
 * Strict patterns for every value that reaches a shell on a host. Config validation and the
 * release plan both check against these, so a value is judged the same way in both places.
 */
export const hostPatterns = {
    /** Image repository without tag or digest: registry/path/name, lowercase as Docker requires. */
    image: /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*(?::[0-9]{1,5})?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/,
    /** An image tag, as Docker defines it. Versions are tags. */
    version: /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/,
    /** A content digest. */
    digest: /^sha256:[a-f0-9]{64}$/,
    /** The proxy's image reference, optionally pinned by digest. */
    proxyImage: /^[a-z0-9][a-z0-9._/:-]*(?:@sha256:[a-f0-9]{64})?$/,
    /** A container memory limit in megabytes or gigabytes (docker run --memory). */
    memory: /^[1-9][0-9]{0,5}[mg]$/,
    /** An absolute URL path. */
    urlPath: /^\/[A-Za-z0-9._~/-]*$/,
    /** The name of one app instance on a host: its containers, network, lock and state. */
    instance: /^[a-z0-9][a-z0-9_-]{0,30}$/,
    /** An IP address to bind to. */
    address: /^[0-9a-fA-F.:]{2,45}$/,
    /** A host's short name, used in resource names. */
    hostName: /^[a-z0-9][a-z0-9-]{0,39}$/,
    /** Host name or IP address (v4, or v6 without brackets). */
    hostAddress:
        /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|[0-9a-fA-F:]+)$/,
    /** One public host key as in known_hosts, without the host field: "<type> <base64>". */
    hostKey: /^(?:ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)) [A-Za-z0-9+/]+={0,2}$/,
    /**
     * A plain word the host's gate (host/bluegreen-gate) accepts: every word of a command sent to a
     * host, each option of the tool included. No shell reads it, and none would need quoting.
     */
    gateWord: /^[A-Za-z0-9._/:@=+-]+$/,
    /** A Unix user name. */
    user: /^[a-z_][a-z0-9_-]{0,31}$/,
} as const;

/** Names the resource that owns an instance on a host: `bluegreen claim --owner` and uninstall's. */
export const ownerPattern = /^[A-Za-z0-9_.-]{1,200}$/;

/**
 * A stack as the pulumi CLI's --stack takes it: NAME, ORG/NAME or ORG/PROJECT/NAME, each part as
 * Pulumi validates stack and project names (pulumi/pulumi, pkg/backend: stackNameAndProjectRegexp
 * = ^[A-Za-z0-9_.-]{1,100}$). scripts/rollback.sh checks the same.
 */
export const stackReference = /^[A-Za-z0-9_.-]{1,100}(?:\/[A-Za-z0-9_.-]{1,100}){0,2}$/;
