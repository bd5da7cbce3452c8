/* li707 - the streaming decoder's private interface, shared by decode.c (the engine: SAX
 * callbacks, frames, leaves, findings, the driver), decode_schema.c (the schema tables and
 * what each element does) and decode_raw.c (raw content). Not for other modules.
 * docs/internals/decode.md describes the design. */
#ifndef LI707_DECODE_H
#define LI707_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "internal.h"

#define NS_DSIG "http://www.w3.org/2000/09/xmldsig#"

#define FRAMES_MAX 24 /* the tables nest 18 frames deep; frames exist only for known structure */
#define TAKEN_MAX 32
#define TAB_MAX 16 /* entries per table at most */

enum ns_id { U_NONE = 0, U_CORE, U_DEL, U_COMMON, U_707, U_XSI, U_DSIG, U_ANY, U__N };

/* What a child element is. Frame types name complex types; the rest are leaves and the
 * special cases. */
enum act {
	A_NONE = 0,
	/* frames */
	F_MSG, F_HEADER, F_ENDPOINT, F_VERSION, F_PAYLOAD, F_REQ, F_ACTIONS, F_ACTION, F_DELIVER,
	F_OBJECT, F_ASSOC, F_REF, F_MANIFEST, F_SPEC, F_DELIVERY, F_XMLDATA, F_COLL, F_ITEM,
	F_IHEADER, F_CORR, F_MPAYLOAD, F_CORE, F_PARTY, F_IDS, F_QID, F_FMT, F_RECV, F_ABD, F_BO,
	F_CSPP, F_CSPM, F_SDET, F_RESP, F_ARESPS, F_ARESP, F_DRESP, F_ERRINFO,
	/* leaves and specials, resolved by the parent's type */
	L_LEAF, R_RAW, S_SPECIAL,
};

struct child {
	enum ns_id ns;
	const char *name; /* NULL: any element */
	unsigned char grp; /* entries with the same nonzero group are alternatives */
	bool many;
	enum act act;
	unsigned char id; /* which field / case, per parent type */
	/* Reported when the cursor passes the entry without it (in schema order): "<miss> is
	 * missing" at path + miss_leaf; on the last entry of a choice
	 * group, neither: the message when no alternative came. */
	const char *miss, *miss_leaf, *neither, *miss_req;
};

struct type {
	const struct child *tab;
	unsigned char n;
	const char *req;
	bool free_order; /* IDS: identifier and qualifiedPartyIdentifier interleave */
};

/* A growable array of model structs with the input line of each (and of one more key per
 * element when needed: an action's ActionIdentifier). */
struct garr {
	void **v;        /* the model's array pointer */
	size_t *n;       /* the model's count */
	size_t size;
	size_t cap, cap_lines, cap_lines2; /* in elements, each array its own */
	long *lines;
	long *lines2;
	size_t off2;     /* offset of the second key inside the struct */
	bool two;        /* there is a second key */
};

struct frame {
	enum act type;
	bool broken;        /* a child matched nothing: every later sibling is reported */
	bool text_seen;     /* non-whitespace text reported */
	bool capped;        /* a count cap was hit: later repeats are skipped */
	int pos;            /* next table entry that may match */
	int last;           /* last matched entry (repeats), -1 */
	unsigned seen;      /* bit i: entry i matched */
	size_t n_elems;     /* element children */
	size_t n1, n2;      /* per-type counters */
	size_t pmark;       /* path length before this frame's segment */
	long line;
	void *obj;
	struct garr arr;
	unsigned n_taken;
	char ident[LI707_UUID_LEN + 1]; /* DELIVER: its Identifier, until the object exists */
	long ident_line;
	long l1, l2;        /* HI1Message: lines of the two Signatures */
	long prev_line;     /* line of the previous child (a CDATA section's line, see on_text) */
	long text_line;     /* line of the current text run (first chunk) */
	bool in_text;
	bool ok1, ok2;
	size_t dmark;       /* own findings before this frame's children (see ins) */
	size_t dins;        /* findings inserted at dmark */
	const xmlChar *taken[TAKEN_MAX]; /* last: not cleared when a frame is pushed */
};

enum leaf_kind { LK_STR, LK_FIXED, LK_UINT, LK_BOOL, LK_UNKEPT, LK_EXTID, LK_WORKFLOW,
	LK_ERRCODE };

struct leaf {
	bool active;
	enum leaf_kind kind;
	bool trim;
	bool mark_it;      /* LK_FIXED: put the field into the line map */
	const char *req;
	const char *what;
	void *dst;
	size_t size;
	bool *ok;
	enum li707_tristate *tri;
	long line;
	size_t pmark;
	const xmlChar *local, *prefix, *uri;
	unsigned sub_depth; /* depth of elements nested in the leaf */
	int nb_attrs;
	const xmlChar **attrs;
};

struct rawst {
	bool active;
	bool dom;          /* converted input: the subtree is built (no usable offsets) */
	unsigned depth;    /* open elements, the raw element included */
	int which;         /* 0 glossary, 1 xmlData, 2 schemaContent */
	const xmlChar *local, *prefix, *uri; /* the raw element */
	size_t start;      /* offset of the raw element's '<' */
	bool start_ok;
	size_t limit;      /* input bytes beyond which the content is over the cap anyway */
	size_t pmark;      /* path length before the raw element's segment */
	bool over;
	char **dst;
	long line;
	/* streaming (UTF-8 input): what is known of the children so far */
	size_t inside_from; /* namespace stack entries from here on are declared inside */
	bool contained;     /* every prefix used inside is declared inside (so far) */
	size_t n_elems;     /* element children */
	size_t n_nodes;     /* other children (text, CDATA, comments, PIs) */
	bool other_bad;     /* a child breaks the ##other rule (no/707 namespace, text) */
	bool text_seen;     /* non-whitespace text among the children (reported) */
	bool bad_elem;      /* xmlData: a child element in no or the 707 namespace */
	long prev_line, text_line;
	bool in_text;
	size_t dmark, dins; /* findings made before the children (see report) */
	/* the built subtree (dom) */
	xmlDocPtr doc;
	xmlNodePtr node;   /* libxml2's current node while building */
	int node_nr;       /* libxml2's node stack depth before the wrapper was pushed */
};

struct nsent {
	const xmlChar *prefix, *uri;
};

struct dc {
	xmlParserCtxtPtr ctxt;
	const char *buf;
	size_t len;
	struct li707_limits lim;
	struct li707_diags own;   /* the decoder's findings until the parse is known good */
	struct li707_diags *diags; /* the caller's (for the checker's findings) */
	struct li707__linemap *map;
	struct li707_message *m;
	int *status;
	size_t n_status, cap_status;
	size_t action;
	int first_msg;
	int fatal;                /* whole-document error: the envelope cannot be read */
	bool dead;                /* after some fatal errors: events are ignored (libxml2 still
				   * checks that the rest is well-formed) */
	size_t msg_diags[16];     /* own findings made at HI1Message level (see msg_first) */
	size_t n_msg_diags;
	struct frame *ins;        /* report() inserts at this frame's dmark (NULL: appends) */
	bool ins_raw;             /* report() inserts at the raw element's dmark */
	bool nomem;
	bool have_header, have_payload, have_payload_kind;
	const xmlChar *uri[U__N];
	const xmlChar *(*names)[TAB_MAX]; /* interned table names, NULL: compare strings */
	/* frames (the array itself is last) */
	int top;                  /* index of the top frame, -1 before the root */
	unsigned skip;            /* depth inside a skipped subtree */
	struct leaf leaf;
	struct rawst raw;
	/* namespace stack */
	struct nsent *ns;
	size_t n_ns, cap_ns;
	size_t *nsmark;           /* per open element: n_ns before it */
	size_t depth, cap_depth;
	/* text */
	char *text;
	size_t tlen, tcap;
	bool ttrunc;              /* text beyond the cap that a trim would not remove */
	/* path */
	size_t plen;
	/* not cleared when a decode starts (see li707_message_decode) */
	char path[1024];
	struct frame fr[FRAMES_MAX];
};

/* Everything the callbacks know about the element being started. */
struct el {
	const xmlChar *local, *prefix, *uri;
	int nb_ns;
	const xmlChar **ns;
	int nb_attrs;
	const xmlChar **attrs;
	long line;
};

#define LI707__DEC_N_TYPES (F_ERRINFO + 1)
extern const struct type li707__dec_types[LI707__DEC_N_TYPES];

static inline long li707__dec_line_now(xmlParserCtxtPtr ctxt)
{
	return ctxt->input ? (long)ctxt->input->line : 0;
}

bool li707__dec_uri_is(const struct dc *c, const xmlChar *uri, enum ns_id id);
/* The name used in paths and messages. */
void li707__dec_disp(const struct dc *c, const xmlChar *local, const xmlChar *prefix,
		     const xmlChar *uri, char *out, size_t cap);
void li707__dec_path_adds(struct dc *c, const char *s);
void li707__dec_path_pop(struct dc *c, size_t mark);
void li707__dec_report(struct dc *c, enum li707_severity sev, int code, long line, const char *leaf,
		       const char *req, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
void li707__dec_mark(struct dc *c, const void *key, long line);
void li707__dec_fatal(struct dc *c, int code);
void li707__dec_own_filter(struct dc *c, bool (*keep)(const struct dc *, size_t));
bool li707__dec_keep_msg_level(const struct dc *c, size_t i);
bool li707__dec_keep_not_action(const struct dc *c, size_t i);
/* max: the list's cap from struct li707_limits (the caller has checked it already). */
void *li707__dec_garr_push(struct dc *c, struct garr *a, long line, long line2, size_t max);
void li707__dec_garr_init(struct garr *a, void *v, size_t *n, size_t size, bool two, size_t off2);
void li707__dec_garr_flush(struct dc *c, struct garr *a);
int li707__dec_xsi_type_is(struct dc *c, int nb_attrs, const xmlChar **attrs, enum ns_id ns,
			   const char *local);
void li707__dec_check_attrs(struct dc *c, int nb_attrs, const xmlChar **attrs, const char *req,
			    long line);
struct frame *li707__dec_frame_push(struct dc *c, enum act type, const char *seg, size_t index,
				    long line, void *obj, int nb_attrs, const xmlChar **attrs);
void li707__dec_leaf_begin(struct dc *c, enum leaf_kind kind, bool trim, const char *req, void *dst,
			   long line, const xmlChar *local, const xmlChar *prefix,
			   const xmlChar *uri, int nb_attrs, const xmlChar **attrs);
void li707__dec_leaf_go(struct dc *c);
void li707__dec_leaf_seg(struct dc *c, const char *seg, size_t index);
void li707__dec_pass_entries(struct dc *c, struct frame *f, int upto);
void li707__dec_raw_begin(struct dc *c, int which, char **dst, long line, const xmlChar *local,
			  const xmlChar *prefix, const xmlChar *uri, int nb_ns, const xmlChar **ns,
			  int nb_attrs, const xmlChar **attrs);
void li707__dec_raw_start(struct dc *c, const xmlChar *local, const xmlChar *prefix,
			  const xmlChar *uri, int nb_ns, const xmlChar **ns, int nb_attrs,
			  const xmlChar **attrs);
/* True when the raw element itself ended (its content is then in the model). */
bool li707__dec_raw_end(struct dc *c, const xmlChar *local, const xmlChar *prefix,
			const xmlChar *uri);
void li707__dec_raw_text(struct dc *c, const xmlChar *s, int len, bool cdata);
/* A comment (v) or a processing instruction (target, data). */
void li707__dec_raw_other(struct dc *c, const xmlChar *v, const xmlChar *target,
			  const xmlChar *data);
bool li707__dec_all_space_n(const xmlChar *t, int len);
int li707__dec_child_start(struct dc *c, struct frame *f, const struct child *ch,
			   const struct el *e);
int li707__dec_xmldata_child(struct dc *c, struct frame *f, const struct el *e);
void li707__dec_frame_end(struct dc *c, struct frame *f);

#define ERR(c, line, leaf, req, ...)                                                         \
	li707__dec_report(c, LI707_SEV_ERROR, LI707_EINVALID, line, leaf, req, __VA_ARGS__)
#define LIMIT(c, line, leaf, req, ...)                                                       \
	li707__dec_report(c, LI707_SEV_ERROR, LI707_ELIMIT, line, leaf, req, __VA_ARGS__)
#define WARN(c, line, leaf, req, ...)                                                        \
	li707__dec_report(c, LI707_SEV_WARNING, 0, line, leaf, req, __VA_ARGS__)
#define NOTE(c, line, leaf, req, ...)                                                        \
	li707__dec_report(c, LI707_SEV_NOTE, 0, line, leaf, req, __VA_ARGS__)

#endif
