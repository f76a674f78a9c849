/**
 * Image references and their digests in a registry: which registry serves an image repository, under
 * which path, and what digest a tag points to there.
 *
 * `parseImageRepository` is the one place that decides "which registry, which repository path"; the
 * digest lookup here and the workflows' `docker login` (components/workflows/settings.ts) both use it.
 *
 * Why not the Docker provider's getRegistryImage: terraform-provider-docker (which @pulumi/docker 5.2.0
 * bundles) takes the registry from the text before the first "/" when it has a "." or ":", and queries
 * "https://" + that + "/v2/<repository>/manifests/<tag>" (internal/provider/data_source_docker_registry_image.go,
 * getImageDigest; parseImageOptions in resource_docker_image_funcs.go). For `docker.io/acme/web-app`
 * that is https://docker.io/v2/..., which serves no registry API: Docker Hub's is registry-1.docker.io.
 * It also always uses https, so a loopback registry cannot be queried, and its plugin cannot be built
 * here. The lookup below follows the registry HTTP API itself, as Docker Engine does.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as os from "os";
import * as path from "path";
import { hostPatterns } from "./patterns";

/** Docker Hub: the name references use, its legacy name, and the host that serves its registry API. */
export const DOCKER_HUB = {
    domain: "docker.io",
    legacyDomain: "index.docker.io",
    apiHost: "registry-1.docker.io",
    /** The key `docker login` stores Docker Hub credentials under in ~/.docker/config.json. */
    configKey: "https://index.docker.io/v1/",
    /** Prefix of official images' repository paths: `haproxy` is `library/haproxy`. */
    officialPrefix: "library/",
} as const;

/** Where an image repository lives. */
export interface ImageRepository {
    /** The registry as references name it: docker.io for Docker Hub, else host[:port]. */
    readonly registry: string;
    /** Whether that is Docker Hub. */
    readonly dockerHub: boolean;
    /** host[:port] that serves the registry HTTP API (/v2/). */
    readonly apiHost: string;
    /** Base URL of that API: http only for a registry on loopback, as Docker Engine allows by default. */
    readonly apiBase: string;
    /** The repository's path in the registry, such as acme/web-app or library/haproxy. */
    readonly path: string;
}

/**
 * Splits an image repository (no tag, no digest) into registry and path, by Docker's own rule
 * (github.com/distribution/reference, normalize.go, splitDockerDomain): the first component names a
 * registry only if it contains "." or ":" or is "localhost"; otherwise the repository is on Docker
 * Hub, where a one-component name is an official image under library/. index.docker.io is
 * docker.io. Throws on anything that is not an image repository.
 */
export function parseImageRepository(image: string): ImageRepository {
    if (!hostPatterns.image.test(image)) {
        throw new Error(
            `invalid image ${JSON.stringify(image)}: must be an image repository without tag, such as docker.io/acme/web-app`,
        );
    }
    const slash = image.indexOf("/");
    const first = slash === -1 ? "" : image.slice(0, slash);
    const hasRegistry = slash !== -1 && (/[.:]/.test(first) || first === "localhost");
    let registry = hasRegistry ? first : DOCKER_HUB.domain;
    let repoPath = hasRegistry ? image.slice(slash + 1) : image;
    if (registry === DOCKER_HUB.legacyDomain || registry === DOCKER_HUB.apiHost) registry = DOCKER_HUB.domain;
    const dockerHub = registry === DOCKER_HUB.domain;
    if (dockerHub && !repoPath.includes("/")) repoPath = DOCKER_HUB.officialPrefix + repoPath;
    const apiHost = dockerHub ? DOCKER_HUB.apiHost : registry;
    const host = apiHost.replace(/:[0-9]+$/, "");
    // Docker Engine treats 127.0.0.0/8 as an insecure (plain http) registry by default; localhost too.
    const loopback = host === "localhost" || /^127\.[0-9]+\.[0-9]+\.[0-9]+$/.test(host);
    return {
        registry,
        dockerHub,
        apiHost,
        apiBase: `${loopback ? "http" : "https"}://${apiHost}`,
        path: repoPath,
    };
}

/** A registry user and password (or access token). */
export interface RegistryCredentials {
    readonly username: string;
    readonly password: string;
}

/**
 * The credentials `docker login` stored for a registry in the Docker CLI's config file
 * ($DOCKER_CONFIG/config.json, else ~/.docker/config.json), if any. Credential helpers (credsStore,
 * credHelpers) are not run: their secrets stay where they are.
 */
export function dockerConfigCredentials(repository: ImageRepository): RegistryCredentials | undefined {
    const dir = process.env.DOCKER_CONFIG ?? path.join(os.homedir(), ".docker");
    let config: { auths?: Record<string, { auth?: string }> };
    try {
        config = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
    } catch {
        return undefined;
    }
    const keys = repository.dockerHub
        ? [DOCKER_HUB.configKey, DOCKER_HUB.domain, DOCKER_HUB.legacyDomain]
        : [repository.registry, `https://${repository.registry}`, `http://${repository.registry}`];
    for (const key of keys) {
        const auth = config.auths?.[key]?.auth;
        if (!auth) continue;
        const decoded = Buffer.from(auth, "base64").toString("utf8");
        const colon = decoded.indexOf(":");
        if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
    return undefined;
}

/** Options of `resolveDigest`. */
export interface ResolveOptions {
    /** Credentials for the registry. Default: those `docker login` stored (dockerConfigCredentials). */
    readonly credentials?: RegistryCredentials;
    /** Milliseconds each HTTP request may take. Default: 15000. */
    readonly timeoutMs?: number;
}

/**
 * Manifest types asked for, so the registry answers with the manifest `docker push` stored (an index
 * for multi-platform images) and its digest is the one `docker pull IMAGE@DIGEST` takes. Without
 * them, a registry may convert to an older schema with another digest.
 */
const MANIFEST_TYPES = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
].join(", ");

interface Response {
    readonly status: number;
    readonly headers: http.IncomingHttpHeaders;
    readonly body: Buffer;
}

function request(
    url: string,
    headers: Record<string, string>,
    method: string,
    timeoutMs: number,
): Promise<Response> {
    const client = url.startsWith("https:") ? https : http;
    return new Promise((resolve, reject) => {
        const req = client.request(url, { method, headers, timeout: timeoutMs }, (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () =>
                resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
            );
            res.on("error", reject);
        });
        req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
        req.on("error", reject);
        req.end();
    });
}

/** Parses the parameters of a `WWW-Authenticate: Bearer realm="...",service="...",scope="..."` header. */
export function bearerChallenge(header: string): Record<string, string> | undefined {
    const m = /^Bearer\s+(.*)$/i.exec(header.trim());
    if (!m) return undefined;
    const params: Record<string, string> = {};
    for (const p of m[1].matchAll(/([A-Za-z]+)="([^"]*)"/g)) params[p[1].toLowerCase()] = p[2];
    return params.realm ? params : undefined;
}

const basic = (c: RegistryCredentials) =>
    `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`;

/**
 * The digest `image:tag` points to in its registry, by the registry HTTP API
 * (https://distribution.github.io/distribution/spec/api/): HEAD /v2/<path>/manifests/<tag>, and on
 * 401 the token flow the registry's challenge names (Docker Hub: auth.docker.io, scope
 * repository:<path>:pull), with the credentials if any, or basic auth where the registry asks for it.
 * The digest is the Docker-Content-Digest header, else the sha256 of the manifest (GET).
 */
export async function resolveDigest(
    image: string,
    tag: string,
    options: ResolveOptions = {},
): Promise<string> {
    if (!hostPatterns.version.test(tag)) {
        throw new Error(`invalid tag ${JSON.stringify(tag)}: must be an image tag such as 1.4.2`);
    }
    const repo = parseImageRepository(image);
    const reference = `${image}:${tag}`;
    const timeoutMs = options.timeoutMs ?? 15_000;
    const credentials = options.credentials ?? dockerConfigCredentials(repo);
    const url = `${repo.apiBase}/v2/${repo.path}/manifests/${tag}`;
    const headers: Record<string, string> = { Accept: MANIFEST_TYPES };
    const fail = (why: string) =>
        new Error(
            `cannot resolve ${reference} to its digest at ${repo.apiBase} (repository ${repo.path}): ${why}. ` +
                `Give the digest instead (pulumi config set digest sha256:...), as the CD workflow does`,
        );
    const ask = async (method: string) => {
        try {
            return await request(url, headers, method, timeoutMs);
        } catch (e) {
            throw fail((e as Error).message);
        }
    };

    let res = await ask("HEAD");
    if (res.status === 401) {
        const challenge = String(res.headers["www-authenticate"] ?? "");
        const bearer = bearerChallenge(challenge);
        if (bearer) {
            const tokenUrl = new URL(bearer.realm);
            if (bearer.service) tokenUrl.searchParams.set("service", bearer.service);
            tokenUrl.searchParams.set("scope", bearer.scope ?? `repository:${repo.path}:pull`);
            let tokenRes: Response;
            try {
                tokenRes = await request(
                    tokenUrl.toString(),
                    credentials ? { Authorization: basic(credentials) } : {},
                    "GET",
                    timeoutMs,
                );
            } catch (e) {
                throw fail(`token request to ${tokenUrl.origin}: ${(e as Error).message}`);
            }
            if (tokenRes.status !== 200) {
                throw fail(
                    `the token service ${tokenUrl.origin} answered ${tokenRes.status}` +
                        (credentials
                            ? " (check the docker login for this registry)"
                            : " (no docker login for this registry)"),
                );
            }
            const body = JSON.parse(tokenRes.body.toString("utf8")) as {
                token?: string;
                access_token?: string;
            };
            const token = body.token ?? body.access_token;
            if (!token) throw fail(`the token service ${tokenUrl.origin} returned no token`);
            headers.Authorization = `Bearer ${token}`;
        } else if (/^Basic/i.test(challenge) && credentials) {
            headers.Authorization = basic(credentials);
        } else {
            throw fail(
                `the registry requires a login (${challenge || "401"}); run docker login ${repo.registry}`,
            );
        }
        res = await ask("HEAD");
    }
    if (res.status === 404) throw fail(`no tag ${tag} in ${repo.path} (404)`);
    if (res.status === 401 || res.status === 403) throw fail(`access denied (${res.status})`);
    if (res.status !== 200) throw fail(`the registry answered ${res.status}`);
    let digest = String(res.headers["docker-content-digest"] ?? "");
    if (!digest) {
        res = await ask("GET");
        if (res.status !== 200) throw fail(`the registry answered ${res.status} to GET`);
        digest = String(res.headers["docker-content-digest"] ?? "");
        if (!digest) digest = `sha256:${crypto.createHash("sha256").update(res.body).digest("hex")}`;
    }
    if (!hostPatterns.digest.test(digest))
        throw fail(`the registry returned an invalid digest ${JSON.stringify(digest)}`);
    return digest;
}
