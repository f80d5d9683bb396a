/*
 * gce.h: Compute Engine, as gcloud-gpu needs it: an instance by name, its lifecycle,
 * SSH access the way `gcloud compute ssh` arranges it, and GPU VM creation.
 *
 * Every call goes through a struct gce opened from gcloud's configuration (gcloud-
 * config.h), the command-line flags (which win) and an access token (auth.h).  The API
 * base is api_endpoint_overrides/compute when set (as in gcloud, the whole prefix up to
 * and including the version, e.g. http://127.0.0.1:8080/compute/v1/; a host alone,
 * with path "/", gets "compute/v1/" appended, as gcloud's _BuildEndpointOverride
 * does), else https://compute.googleapis.com/compute/v1/.  Links inside answers (selfLink, zone)
 * are only ever read for their last path segment: the host in them is never used.
 *
 * Steps for a command:
 *   struct gce_options o = GCE_OPTIONS_INIT;      // getopt_long with GCE_LONG_OPTIONS,
 *   gce_option(&o, opt, optarg) ...               // flags the command does not handle
 *   struct gce g; gce_open(&g, &o, &cause);       // project, zone, endpoint, token
 *   gce_instance_get / gce_instance_action / gce_create ...
 *   gce_close(&g);
 * Or, to turn a VM name into an SSH target in one call: gce_resolve_target.
 */
#ifndef GG_GCE_H
#define GG_GCE_H

#include <getopt.h>
#include <jansson.h>

#include "auth.h"
#include "gcloud-config.h"
#include "http.h"

#define GCE_DEFAULT_ENDPOINT "https://compute.googleapis.com/compute/v1/"

/* Tests only: the SSH port of Compute Engine targets (a VM's sshd is on 22). */
#define GCE_ENV_SSH_PORT "GCLOUD_GPU_SSH_PORT"

struct gce_options {
	const char *project;           /* --project; NULL: core/project */
	const char *zone;              /* --zone; NULL: compute/zone */
	const char *access_token_file; /* --access-token-file; NULL: auth/access_token_file */
	int internal_ip;               /* --internal-ip: connect to the VPC address */
};

#define GCE_OPTIONS_INIT { NULL, NULL, NULL, 0 }

enum {
	GCE_OPT_PROJECT = 0x1000,
	GCE_OPT_ZONE,
	GCE_OPT_ACCESS_TOKEN_FILE,
	GCE_OPT_INTERNAL_IP,
};

/* The getopt_long entries every Compute Engine command accepts. */
#define GCE_LONG_OPTIONS                                                        \
	{ "project", required_argument, NULL, GCE_OPT_PROJECT },                \
	{ "zone", required_argument, NULL, GCE_OPT_ZONE },                      \
	{ "access-token-file", required_argument, NULL, GCE_OPT_ACCESS_TOKEN_FILE }, \
	{ "internal-ip", no_argument, NULL, GCE_OPT_INTERNAL_IP }

/* Usage text for those options, for a command's usage line. */
#define GCE_OPTIONS_USAGE "[--project P] [--zone Z] [--access-token-file F]"

/* Handle one of GCE_LONG_OPTIONS: 1 when opt was one of them, else 0. */
int gce_option(struct gce_options *o, int opt, const char *arg);

/*
 * Parse "NAME [options]" for the commands that act on one instance (start, stop,
 * delete): GCE_LONG_OPTIONS, plus --yes/-y when yes is not NULL.  0, or GG_EXIT_USAGE
 * with *cause set.  *name points into argv.
 */
int gce_parse_instance_args(int argc, char **argv, struct gce_options *o, const char **name,
			    int *yes, char **cause);

struct gce {
	struct gcloud_config config;
	struct auth_options auth_options; /* where the token comes from (again, on a 401) */
	char *project;  /* flag, else configuration (owned) */
	char *zone;
	char *endpoint; /* ends with '/' */
	struct auth_token auth; /* the token (never printed) and its source */
};

/*
 * Resolve project, zone and endpoint and get a token.  Returns 0, GG_EXIT_USAGE when
 * no project or zone is known (naming the gcloud command or flag that sets it), or
 * GG_EXIT_API for credentials.  gce_close frees g either way.
 */
int gce_open(struct gce *g, const struct gce_options *o, char **cause);
void gce_close(struct gce *g);

/* The base URL for an api_endpoint_overrides/compute value (NULL: the default). */
char *gce_endpoint_url(const char *override);

/*
 * One API call: method on endpoint + path ("projects/P/zones/Z/instances/N").  As
 * http_call: 0 on 2xx, else GG_EXIT_API with rs->status for the caller to inspect.
 * A 401 drops the token (and its cache entry), gets a new one from the same source
 * and tries once more; a second 401 names the token's source and what to do.
 */
int gce_call(struct gce *g, const char *method, const char *path, json_t *body,
	     struct http_response *rs, char **cause);

/*
 * The one way to change anything (insert, start, stop, delete, setMetadata...): path
 * gets a requestId (a random UUID made once for this call, sent unchanged on every
 * retry, so that Compute Engine runs a retried request once), then the operation it
 * answers is waited for.  As gce_call otherwise.
 */
int gce_mutate(struct gce *g, const char *method, const char *path, json_t *body,
	       struct http_response *rs, char **cause);

/* A random (version 4) UUID in its 36-character text form into out[37]. */
void gce_request_id(char out[37]);

/* instances.get.  0 and *instance (the caller's reference), or GG_EXIT_API. */
int gce_instance_get(struct gce *g, const char *name, json_t **instance, char **cause);

/*
 * Wait for an operation (an answer of insert, start, setMetadata...) to be DONE,
 * polling every $GCLOUD_GPU_API_DELAY_MS (http.h) for up to 10 minutes.  An operation
 * that ends with an error maps it through http_api_error (quota, zone exhausted...).
 */
int gce_operation_wait(struct gce *g, json_t *operation, char **cause);

/* POST instances/NAME/ACTION ("start", "stop", "resume") or DELETE it, and wait. */
int gce_instance_action(struct gce *g, const char *name, const char *action, char **cause);
int gce_instance_delete(struct gce *g, const char *name, char **cause);

/*
 * The instance's OS Login setting (its metadata, else the project's, as the guest
 * agent reads it): GG_EXIT_API with what to do when it is on, else 0.  Checked before
 * anything is started or changed.
 */
int gce_oslogin_check(json_t *instance, json_t *project, char **cause);

/*
 * Is a metadata flag on?  The instance's value, else the project's; "true" in any
 * case, "1", "t", "y", "yes" (the guest agent's and gcloud's readings together).
 */
int gce_metadata_flag(json_t *instance, json_t *project, const char *key);

/*
 * Get the instance and make sure it runs: a TERMINATED (stopped) one is started, a
 * SUSPENDED one resumed, a STOPPING/PROVISIONING/STAGING one waited for.  *instance is
 * the instance as it runs.  `started` (may be NULL) says whether it was started here.
 */
int gce_ensure_running(struct gce *g, const char *name, json_t **instance, int *started,
		       char **cause);

/* The value of metadata key in a {"items":[{"key","value"}]} object, or NULL. */
const char *gce_metadata_get(json_t *metadata, const char *key);

/* The first accessConfigs natIP (internal: the networkIP), or NULL. */
const char *gce_instance_address(json_t *instance, int internal);

/*
 * Make sure the instance accepts public_key (one line "TYPE BASE64 [COMMENT]") for
 * user: found unexpired in the instance's ssh-keys or sshKeys (or the project's, unless
 * the instance blocks project keys: block-project-ssh-keys, or a legacy sshKeys entry,
 * which the guest agent reads as a block), else added to the instance's ssh-keys with
 * the metadata fingerprint, expired google-ssh entries dropped (as gcloud's
 * _PrepareSSHKeysValue does), re-reading and retrying when the fingerprint changed
 * meanwhile (412/409).  Refuses with what to do when OS Login is enabled.  *added says
 * whether a key was added.
 */
int gce_ssh_key_ensure(struct gce *g, json_t *instance, const char *user,
		       const char *public_key, int *added, char **cause);

/*
 * Read the host keys the instance published in its guest attributes (hostkeys/) and
 * write them to known_hosts under alias "compute.<id>", replacing older lines for that
 * alias (the API is an authenticated source).  Guest attributes are on when the
 * instance's enable-guest-attributes says so, else the project's (project may be
 * NULL).  wait: the VM has just booted, and its guest agent publishes the keys some
 * seconds after: ask again with backoff (GCE_HOST_KEY_TRIES, about three minutes at the
 * default delay); else ask once.  *published is 0 when the instance has guest
 * attributes off or published none: the caller falls back to plain SSH rules.
 */
int gce_host_keys_update(struct gce *g, json_t *instance, json_t *project,
			 const char *known_hosts, int wait, int *published, char **cause);

/* Tries for host keys after a boot: 1+2+4+8+8... times the base delay, about 167 s. */
#define GCE_HOST_KEY_TRIES 24

/* A VM started this recently (lastStartTimestamp) counts as just booted. */
#define GCE_FRESH_BOOT_SECONDS 300

/* What `gcloud-gpu create` asks for; NULL / 0 fields take the defaults. */
struct gce_create {
	const char *name;
	const char *gpu_type;     /* NULL: the first the zone offers of a preference list */
	int gpu_count;            /* 0: 1 */
	const char *machine_type; /* NULL: one that fits the GPU */
	const char *image_family; /* NULL: GCE_DEFAULT_IMAGE_FAMILY */
	const char *image_project;/* NULL: GCE_DEFAULT_IMAGE_PROJECT */
	int disk_gb;              /* 0: 100 */
	int spot;
	const char *network;      /* NULL: "default" unless subnet is given */
	const char *subnet;       /* NULL: the network's auto subnet */
	const char *service_account; /* NULL: none (the VM gets no Google credentials) */
};

/* The label `create` sets on what it makes (the fleet and idle commands select by it). */
#define GCE_LABEL_KEY "gcloud-gpu"
#define GCE_LABEL_VALUE "managed"

#define GCE_DEFAULT_IMAGE_FAMILY "ubuntu-2204-lts"
#define GCE_DEFAULT_IMAGE_PROJECT "ubuntu-os-cloud"

/*
 * The regional quota metric of a GPU type from an explicit table (nvidia-tesla-t4 ->
 * NVIDIA_T4_GPUS, nvidia-h100-80gb -> NVIDIA_H100_GPUS; PREEMPTIBLE_ before it for
 * spot), malloc'd; NULL for a type the table does not know.
 */
char *gce_gpu_quota_metric(const char *gpu_type, int spot);

/*
 * The machine type for count GPUs of gpu_type (n1-standard-8 for one T4, g2-standard-24
 * for two L4, a2-highgpu-4g for four A100...), or NULL when the table has none (an
 * unknown type, a count the family does not offer, K80): the caller asks for
 * --machine-type.
 */
const char *gce_machine_type_for(const char *gpu_type, int count);

/* The region of a zone ("us-central1-a" -> "us-central1"), malloc'd. */
char *gce_zone_region(const char *zone);

/*
 * The instances.insert body for c, with every default filled in and c->gpu_type
 * already chosen.  Pure: the caller owns the result.
 */
json_t *gce_insert_body(const struct gce *g, const struct gce_create *c);

/*
 * Create the VM: choose the GPU among the zone's acceleratorTypes, check the image
 * family exists, check the region's GPU quota and the project's GPUS_ALL_REGIONS
 * (refusing with the quota to request and where when a metric is present and too
 * small; a Spot VM may use standard quota too), insert, wait.
 */
int gce_create(struct gce *g, const struct gce_create *c, char **cause);

/* An SSH target for a VM, ready for the SSH layer. */
struct gce_target {
	char *instance_id;
	char *host;           /* external address (--internal-ip: VPC address) */
	int port;             /* 22 ($GCLOUD_GPU_SSH_PORT in tests) */
	char *user;           /* local user name, as gcloud compute ssh uses */
	char *identity;       /* ~/.ssh/google_compute_engine */
	char *known_hosts;    /* ~/.ssh/google_compute_known_hosts; NULL: plain SSH rules */
	char *host_key_alias; /* "compute.<id>": the name to look the host up under */
	int key_added;        /* just added to metadata: the guest agent may need seconds,
			       * so retry authentication failures a few times */
	int started;          /* the VM was started to get here */
	int managed;          /* it carries the label gcloud-gpu=managed (create sets it) */
};

/*
 * Turn a VM name into an SSH target: open the API, make sure the VM runs (starting a
 * stopped one), pick its address, make sure ~/.ssh/google_compute_engine exists and is
 * in the metadata, and fetch its host keys into the known_hosts file.  Returns 0 and
 * *out (free with gce_target_release), or an exit code of cli.h with *cause set.
 * Notes for the user (a VM being started, no host keys published) go to stderr.
 */
int gce_resolve_target(const char *name, const struct gce_options *o, struct gce_target *out,
		       char **cause);
void gce_target_release(struct gce_target *t);

/*
 * ~/.ssh/google_compute_engine and its .pub, made (ed25519, with libssh) when missing,
 * with user as the comment.  *public_key gets the .pub line (malloc'd).
 */
int gce_ssh_key_file(const char *path, const char *user, char **public_key, char **cause);

/*
 * The user name gcloud would use (ssh.py GetDefaultSshUsername): the local one ($USER,
 * $LOGNAME, the password entry) as it is, case kept; when it is not printable ASCII
 * (or holds ':', which metadata lines cannot carry), account's part before '@', lower
 * case, other characters '_', a 'g' before a leading non-letter, 32 at most.  NULL
 * when neither gives one.  malloc'd.
 */
char *gce_ssh_user(const char *account);

/*
 * For gce-fleet.c, what one VM's calls already do: GET path as JSON (what names it in
 * errors), the name check that keeps names out of other URL paths, the zone's GPU
 * choice, the GPU quota check (region of g->zone, and GPUS_ALL_REGIONS) for count
 * GPUs, and the GPU types in order of preference (NULL-terminated).
 */
int gce_get_json(struct gce *g, const char *path, const char *what, json_t **out, char **cause);
int gce_name_valid(const char *name);
int gce_choose_gpu(struct gce *g, const char *wanted, char **chosen, char **cause);
int gce_check_quota(struct gce *g, const char *gpu, int count, int spot, char **cause);
const char *const *gce_gpu_preference(void);

/*
 * Whether type may be chosen when the user named none: not a workstation (-vws) type
 * and not one kept without machine types (the K80, past its end of life).
 */
int gce_gpu_pickable(const char *type);

#endif
