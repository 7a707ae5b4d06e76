/*
 * Compiled encoders for the workers' plain paths, and the bulk loops of the fingerprint tables.
 *
 * Each encoder here does what a method of plainspan.py, plainlog.py or plainotlp.py does, for
 * the records that are plain in the simplest way, and returns None for every other record.
 * The Python method then takes the record as before, so a record declined here is never lost,
 * and the Python code stays the reference: tests/test_speedups.py compares both on generated
 * records, byte for byte. A result is written only when every check of the Python method
 * holds. The table functions run the loops of index.FingerprintTable on its arrays.
 *
 * The module is optional. The package builds it when a C compiler is available (see
 * hatch_build.py), and runs the same pure-Python code without it.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

/* A growable output buffer, on the stack for most spans. */
typedef struct {
    unsigned char *data;
    size_t length;
    size_t capacity;
    unsigned char inline_data[4096];
} Buffer;

static void buffer_init(Buffer *buffer)
{
    buffer->data = buffer->inline_data;
    buffer->length = 0;
    buffer->capacity = sizeof(buffer->inline_data);
}

static void buffer_free(Buffer *buffer)
{
    if (buffer->data != buffer->inline_data) {
        PyMem_Free(buffer->data);
    }
    buffer_init(buffer);
}

/* Make room for `extra` more bytes; return 0, or -1 with MemoryError set. */
static int buffer_reserve(Buffer *buffer, size_t extra)
{
    if (buffer->length + extra <= buffer->capacity) {
        return 0;
    }
    size_t capacity = buffer->capacity * 2;
    while (capacity < buffer->length + extra) {
        capacity *= 2;
    }
    unsigned char *data;
    if (buffer->data == buffer->inline_data) {
        data = PyMem_Malloc(capacity);
        if (data != NULL) {
            memcpy(data, buffer->inline_data, buffer->length);
        }
    }
    else {
        data = PyMem_Realloc(buffer->data, capacity);
    }
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    buffer->data = data;
    buffer->capacity = capacity;
    return 0;
}

static size_t varint_size(uint64_t number)
{
    size_t size = 1;
    while (number > 0x7F) {
        number >>= 7;
        size++;
    }
    return size;
}

/* The writers below expect the caller to have reserved the room. */
static void put_varint(Buffer *buffer, uint64_t number)
{
    while (number > 0x7F) {
        buffer->data[buffer->length++] = (unsigned char)((number & 0x7F) | 0x80);
        number >>= 7;
    }
    buffer->data[buffer->length++] = (unsigned char)number;
}

static void put_bytes(Buffer *buffer, const void *bytes, size_t size)
{
    memcpy(buffer->data + buffer->length, bytes, size);
    buffer->length += size;
}

static void put_fixed64(Buffer *buffer, uint64_t number)
{
    for (int shift = 0; shift < 64; shift += 8) {
        buffer->data[buffer->length++] = (unsigned char)(number >> shift);
    }
}

/* Append a length-delimited field whose body is `size` bytes. */
static int put_field(Buffer *buffer, unsigned char tag, const void *body, size_t size)
{
    if (buffer_reserve(buffer, 1 + 10 + size) < 0) {
        return -1;
    }
    buffer->data[buffer->length++] = tag;
    put_varint(buffer, size);
    put_bytes(buffer, body, size);
    return 0;
}

/* What a check gives: the record is plain so far, it is not, or an exception is set. */
enum { PLAIN = 0, NOT_PLAIN = 1, FAILED = -1 };

/*
 * Give the UTF-8 form of a string that the full path keeps unchanged: exactly a str, with no
 * lone surrogate. NOT_PLAIN for anything else.
 */
static int plain_text(PyObject *value, const char **text, Py_ssize_t *size)
{
    if (value == NULL || !PyUnicode_CheckExact(value)) {
        return NOT_PLAIN;
    }
    *text = PyUnicode_AsUTF8AndSize(value, size);
    if (*text == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
            return FAILED;
        }
        PyErr_Clear();  /* a lone surrogate, which the full path replaces with a notice */
        return NOT_PLAIN;
    }
    return PLAIN;
}

static int hex_digit(char character)
{
    if (character >= '0' && character <= '9') {
        return character - '0';
    }
    if (character >= 'a' && character <= 'f') {
        return character - 'a' + 10;
    }
    if (character >= 'A' && character <= 'F') {
        return character - 'A' + 10;
    }
    return -1;
}

/*
 * Read an ID of `size` bytes written as 2 * size hexadecimal digits into `bytes`, big-endian.
 * An all-zero ID is plain only where `zero_allowed` is set.
 */
static int hex_id(PyObject *value, unsigned char *bytes, size_t size, int zero_allowed)
{
    const char *text;
    Py_ssize_t length;
    int check = plain_text(value, &text, &length);
    if (check != PLAIN) {
        return check;
    }
    if ((size_t)length != 2 * size) {
        return NOT_PLAIN;
    }
    int nonzero = 0;
    for (size_t index = 0; index < size; index++) {
        int high = hex_digit(text[2 * index]);
        int low = hex_digit(text[2 * index + 1]);
        if (high < 0 || low < 0) {
            return NOT_PLAIN;
        }
        bytes[index] = (unsigned char)(high << 4 | low);
        nonzero |= bytes[index];
    }
    return nonzero || zero_allowed ? PLAIN : NOT_PLAIN;
}

/* The record's keys, created once: looking them up by C string would create one per call. */
static PyObject *KEY_NAME, *KEY_TRACE_ID, *KEY_SPAN_ID, *KEY_PARENT_SPAN_ID, *KEY_START_TIME, *KEY_END_TIME;
static PyObject *KEY_STATUS, *KEY_CODE, *KEY_MESSAGE, *KEY_ATTRIBUTES, *KEY_EVENTS, *KEY_TIME;
static PyObject *KEY_TIMESTAMP, *KEY_SEVERITY_NUMBER, *KEY_SEVERITY_TEXT, *KEY_BODY, *KEY_TRACE_ATTRIBUTE, *KEY_SPAN_ATTRIBUTE;

/*
 * The value of `key` in `dict`, borrowed, or NULL where it is missing. The keys here are exact
 * str objects, and the dicts come from JSON, so the lookup cannot raise.
 */
static PyObject *item(PyObject *dict, PyObject *key)
{
    return PyDict_GetItemWithError(dict, key);
}

#define NANOS_PER_MILLISECOND 1000000ULL
#define MAX_MILLISECONDS (UINT64_MAX / NANOS_PER_MILLISECOND)

/* Where a key of the times ends in the text of a record. */
typedef struct {
    size_t count;     /* occurrences of the key followed by its colon */
    size_t position;  /* just after the first occurrence */
} KeyPlace;

#define INLINE_EVENT_TIMES 64

/*
 * Where the times of a span are read in the text of its record, as plainspan._TextTimes reads
 * them: the text is scanned once for the keys, at the colons that end them.
 */
typedef struct {
    const char *text;
    size_t size;
    KeyPlace start;
    KeyPlace end;
    size_t event_count;
    size_t *event_positions;  /* inline_positions, or an allocation for spans with many events */
    size_t event_capacity;
    size_t next_event;
    size_t inline_positions[INLINE_EVENT_TIMES];
} TextTimes;

static void text_times_free(TextTimes *times)
{
    if (times->event_positions != times->inline_positions) {
        PyMem_Free(times->event_positions);
        times->event_positions = times->inline_positions;
    }
}

/* Note where an event's time key ends; return 0, or -1 with MemoryError set. */
static int add_event_position(TextTimes *times, size_t after)
{
    if (times->event_count == times->event_capacity) {
        size_t capacity = times->event_capacity * 2;
        size_t *positions = PyMem_Malloc(capacity * sizeof(size_t));
        if (positions == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        memcpy(positions, times->event_positions, times->event_count * sizeof(size_t));
        text_times_free(times);
        times->event_positions = positions;
        times->event_capacity = capacity;
    }
    times->event_positions[times->event_count++] = after;
    return 0;
}

static int ends_key(const char *text, size_t colon, const char *key, size_t key_size)
{
    /* `key` is a quoted key without its colon. */
    return colon >= key_size && memcmp(text + colon - key_size, key, key_size) == 0;
}

static void place_key(KeyPlace *place, size_t after)
{
    if (place->count++ == 0) {
        place->position = after;
    }
}

/* Find the keys in the text; return 0, or -1 with an exception set. */
static int find_keys(TextTimes *times)
{
    const char *text = times->text;
    const char *at = text;
    const char *end = text + times->size;
    while ((at = memchr(at, ':', (size_t)(end - at))) != NULL) {
        size_t colon = (size_t)(at - text);
        at++;
        if (colon == 0 || text[colon - 1] != '"') {
            continue;
        }
        if (ends_key(text, colon, "\"time\"", 6)) {
            if (add_event_position(times, colon + 1) < 0) {
                return -1;
            }
        }
        else if (ends_key(text, colon, "\"startTime\"", 11)) {
            place_key(&times->start, colon + 1);
        }
        else if (ends_key(text, colon, "\"endTime\"", 9)) {
            place_key(&times->end, colon + 1);
        }
    }
    return 0;
}

/* A time given as an integer number of milliseconds, as values.to_unix_nano converts it. */
static int integer_time(PyObject *value, uint64_t *unix_nano)
{
    if (!PyLong_CheckExact(value)) {
        return NOT_PLAIN;  /* None, booleans and other types get the full path's error */
    }
    int overflow;
    long long milliseconds = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (milliseconds == -1 && PyErr_Occurred()) {
        return FAILED;
    }
    if (overflow || milliseconds < 0 || (unsigned long long)milliseconds > MAX_MILLISECONDS) {
        return NOT_PLAIN;
    }
    *unix_nano = (uint64_t)milliseconds * NANOS_PER_MILLISECOND;
    return PLAIN;
}

/*
 * A float time, read from the literal at `position` in the text. The literal must be a plain
 * decimal with at most 6 fraction digits that gives the same float. Other literals are left to
 * the Python path, which also reads exponents and longer fractions.
 */
static int literal_time(const TextTimes *times, size_t position, double value, uint64_t *unix_nano)
{
    const char *text = times->text;
    size_t end = times->size;
    while (position < end && (text[position] == ' ' || text[position] == '\t' || text[position] == '\r'
                              || text[position] == '\n')) {
        position++;
    }
    size_t start = position;
    uint64_t whole = 0;
    while (position < end && text[position] >= '0' && text[position] <= '9') {
        if (position - start >= 19) {
            return NOT_PLAIN;
        }
        whole = whole * 10 + (uint64_t)(text[position] - '0');
        position++;
    }
    if (position == start || position >= end || text[position] != '.') {
        return NOT_PLAIN;
    }
    size_t dot = position++;
    uint64_t fraction = 0;
    while (position < end && text[position] >= '0' && text[position] <= '9') {
        if (position - dot > 6) {
            return NOT_PLAIN;
        }
        fraction = fraction * 10 + (uint64_t)(text[position] - '0');
        position++;
    }
    size_t fraction_digits = position - dot - 1;
    if (fraction_digits == 0 || (position < end && (text[position] == 'e' || text[position] == 'E'))) {
        return NOT_PLAIN;
    }
    for (size_t digit = fraction_digits; digit < 6; digit++) {
        fraction *= 10;
    }
    if (whole > MAX_MILLISECONDS || whole * NANOS_PER_MILLISECOND > UINT64_MAX - fraction) {
        return NOT_PLAIN;
    }

    char literal[32];
    size_t literal_size = position - start;
    memcpy(literal, text + start, literal_size);
    literal[literal_size] = '\0';
    double parsed = PyOS_string_to_double(literal, NULL, NULL);
    if (parsed == -1.0 && PyErr_Occurred()) {
        return FAILED;
    }
    if (parsed != value) {
        return NOT_PLAIN;
    }
    *unix_nano = whole * NANOS_PER_MILLISECOND + fraction;
    return PLAIN;
}

/* A time of a field whose key occurs once in the text. */
static int only_time(const TextTimes *times, const KeyPlace *place, PyObject *value, uint64_t *unix_nano)
{
    if (value == NULL || !PyFloat_CheckExact(value)) {
        return value == NULL ? NOT_PLAIN : integer_time(value, unix_nano);
    }
    if (place->count != 1) {
        return NOT_PLAIN;
    }
    return literal_time(times, place->position, PyFloat_AS_DOUBLE(value), unix_nano);
}

/* The time of the next event: the events' time keys follow in order. */
static int next_event_time(TextTimes *times, PyObject *value, uint64_t *unix_nano)
{
    size_t position = times->event_positions[times->next_event++];
    if (value == NULL) {
        return NOT_PLAIN;
    }
    if (!PyFloat_CheckExact(value)) {
        return integer_time(value, unix_nano);
    }
    return literal_time(times, position, PyFloat_AS_DOUBLE(value), unix_nano);
}

/* Move a time as timeshift.moved does; an unset time stays unset. */
static int moved(uint64_t unix_nano, long long offset, uint64_t *result)
{
    if (unix_nano == 0) {
        *result = 0;
        return PLAIN;
    }
    /* Outside 1970 to 2554 the Python path gives the error. */
    if (offset >= 0) {
        if (unix_nano > UINT64_MAX - (uint64_t)offset) {
            return NOT_PLAIN;
        }
        *result = unix_nano + (uint64_t)offset;
        return PLAIN;
    }
    uint64_t magnitude = (uint64_t)(-(offset + 1)) + 1;
    if (unix_nano <= magnitude) {
        return NOT_PLAIN;
    }
    *result = unix_nano - magnitude;
    return PLAIN;
}

#define INT64_LIMIT 9223372036854775808.0  /* 2**63 */

/* Which floats an attribute may hold. */
enum { ANY_FLOAT, SMALL_FLOAT };

/*
 * Append one attribute's KeyValue field, with tag `tag`, as encode._key_value_field writes
 * it for a scalar value. With SMALL_FLOAT, floats of 2**63 or more in magnitude are not
 * plain, as in plainspan.py, because orjson gives integers beyond 64 bits as such floats.
 */
static int put_key_value(Buffer *buffer, unsigned char tag, PyObject *key, PyObject *value, int floats)
{
    const char *key_text;
    Py_ssize_t key_size;
    int check = plain_text(key, &key_text, &key_size);
    if (check != PLAIN) {
        return check;
    }

    /* The AnyValue message: its one field, as a head and a string that follows it. */
    unsigned char head[11];
    size_t head_size = 0;
    const char *tail = NULL;
    Py_ssize_t tail_size = 0;
    if (PyUnicode_CheckExact(value)) {
        check = plain_text(value, &tail, &tail_size);
        if (check != PLAIN) {
            return check;
        }
        head[head_size++] = 0x0A;
    }
    else if (PyBool_Check(value)) {
        head[head_size++] = 0x10;
        head[head_size++] = value == Py_True;
    }
    else if (PyLong_CheckExact(value)) {
        int overflow;
        long long number = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (number == -1 && PyErr_Occurred()) {
            return FAILED;
        }
        if (overflow) {
            return NOT_PLAIN;
        }
        head[head_size++] = 0x18;
        uint64_t bits = (uint64_t)number;  /* an int64 is written as the varint of its two's complement */
        while (bits > 0x7F) {
            head[head_size++] = (unsigned char)((bits & 0x7F) | 0x80);
            bits >>= 7;
        }
        head[head_size++] = (unsigned char)bits;
    }
    else if (PyFloat_CheckExact(value)) {
        double number = PyFloat_AS_DOUBLE(value);
        if (floats == SMALL_FLOAT && !(-INT64_LIMIT < number && number < INT64_LIMIT)) {
            return NOT_PLAIN;
        }
        uint64_t bits;
        memcpy(&bits, &number, sizeof(bits));
        head[head_size++] = 0x21;
        for (int shift = 0; shift < 64; shift += 8) {
            head[head_size++] = (unsigned char)(bits >> shift);
        }
    }
    else if (value != Py_None) {
        return NOT_PLAIN;  /* decimals, arrays and objects */
    }

    size_t any_value_size = head_size + (tail == NULL ? 0 : varint_size((uint64_t)tail_size) + (size_t)tail_size);
    size_t key_field_size = key_size ? 1 + varint_size((uint64_t)key_size) + (size_t)key_size : 0;
    size_t body_size = key_field_size + 1 + varint_size(any_value_size) + any_value_size;
    if (buffer_reserve(buffer, 1 + 10 + body_size) < 0) {
        return FAILED;
    }
    buffer->data[buffer->length++] = tag;
    put_varint(buffer, body_size);
    if (key_size) {  /* proto3 leaves out an empty key */
        buffer->data[buffer->length++] = 0x0A;
        put_varint(buffer, (uint64_t)key_size);
        put_bytes(buffer, key_text, (size_t)key_size);
    }
    buffer->data[buffer->length++] = 0x12;
    put_varint(buffer, any_value_size);
    put_bytes(buffer, head, head_size);
    if (tail != NULL) {
        put_varint(buffer, (uint64_t)tail_size);
        put_bytes(buffer, tail, (size_t)tail_size);
    }
    return PLAIN;
}

/* Append the KeyValue fields of a JSON object of attributes that decode_attributes keeps unchanged. */
static int put_attributes(Buffer *buffer, unsigned char tag, PyObject *attributes, int floats)
{
    if (attributes == NULL || attributes == Py_None) {
        return PLAIN;
    }
    if (!PyDict_CheckExact(attributes)) {
        return NOT_PLAIN;
    }
    Py_ssize_t position = 0;
    PyObject *key;
    PyObject *value;
    while (PyDict_Next(attributes, &position, &key, &value)) {
        int check = put_key_value(buffer, tag, key, value, floats);
        if (check != PLAIN) {
            return check;
        }
    }
    return PLAIN;
}

/* Append the Status field, which the official encoder always writes. */
static int put_status(Buffer *buffer, PyObject *status)
{
    Buffer body;
    buffer_init(&body);
    int result = PLAIN;
    if (status != NULL && status != Py_None) {
        if (!PyDict_CheckExact(status)) {
            return NOT_PLAIN;
        }
        long code = 0;
        PyObject *code_value = item(status, KEY_CODE);
        if (code_value != NULL) {
            if (!PyLong_CheckExact(code_value)) {
                return NOT_PLAIN;
            }
            code = PyLong_AsLong(code_value);
            if (code == -1 && PyErr_Occurred()) {
                PyErr_Clear();
                return NOT_PLAIN;
            }
            if (code < 0 || code > 2) {
                return NOT_PLAIN;
            }
        }
        PyObject *message = item(status, KEY_MESSAGE);
        const char *text = "";
        Py_ssize_t size = 0;
        if (message != NULL) {
            int check = plain_text(message, &text, &size);
            if (check != PLAIN) {
                return check;
            }
        }
        if (size && put_field(&body, 0x12, text, (size_t)size) < 0) {
            buffer_free(&body);
            return FAILED;
        }
        if (code && buffer_reserve(&body, 2) < 0) {
            buffer_free(&body);
            return FAILED;
        }
        if (code) {
            body.data[body.length++] = 0x18;
            body.data[body.length++] = (unsigned char)code;
        }
    }
    if (put_field(buffer, 0x7A, body.data, body.length) < 0) {
        result = FAILED;
    }
    buffer_free(&body);
    return result;
}

/* Append the Event fields; collect the events' recorded times in `event_times`, if given. */
static int put_events(Buffer *buffer, PyObject *events, TextTimes *times, long long shift, PyObject *event_times)
{
    if (events == NULL || events == Py_None) {
        return PLAIN;
    }
    if (!PyList_CheckExact(events)) {
        return NOT_PLAIN;
    }
    Py_ssize_t count = PyList_GET_SIZE(events);
    if (count && times->event_count != (size_t)count) {
        return NOT_PLAIN;  /* as in the Python path, the key must occur once per event */
    }
    times->next_event = 0;

    Buffer body;
    buffer_init(&body);
    int check = PLAIN;
    for (Py_ssize_t index = 0; index < count && check == PLAIN; index++) {
        PyObject *event = PyList_GET_ITEM(events, index);
        if (!PyDict_CheckExact(event)) {
            check = NOT_PLAIN;
            break;
        }
        const char *name;
        Py_ssize_t name_size;
        check = plain_text(item(event, KEY_NAME), &name, &name_size);
        if (check != PLAIN) {
            break;
        }
        uint64_t recorded;
        uint64_t time;
        check = next_event_time(times, item(event, KEY_TIME), &recorded);
        if (check == PLAIN) {
            check = moved(recorded, shift, &time);
        }
        if (check != PLAIN) {
            break;
        }
        if (event_times != NULL) {
            PyObject *number = PyLong_FromUnsignedLongLong(recorded);
            if (number == NULL || PyList_Append(event_times, number) < 0) {
                Py_XDECREF(number);
                check = FAILED;
                break;
            }
            Py_DECREF(number);
        }

        body.length = 0;
        if (buffer_reserve(&body, 9) < 0) {
            check = FAILED;
            break;
        }
        if (time) {
            body.data[body.length++] = 0x09;
            put_fixed64(&body, time);
        }
        if (name_size && put_field(&body, 0x12, name, (size_t)name_size) < 0) {
            check = FAILED;
            break;
        }
        check = put_attributes(&body, 0x1A, item(event, KEY_ATTRIBUTES), SMALL_FLOAT);
        if (check == PLAIN && put_field(buffer, 0x5A, body.data, body.length) < 0) {
            check = FAILED;
        }
    }
    buffer_free(&body);
    return check;
}

/*
 * encode_codemachine_span(index, text, span, shift, event_times) -> tuple | None
 *
 * The compiled form of PlainSpanEncoder.encode_text for a record already parsed into `span`.
 */
static PyObject *encode_codemachine_span(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "encode_codemachine_span takes 5 arguments");
        return NULL;
    }
    PyObject *index = args[0];
    PyObject *text_object = args[1];
    PyObject *span = args[2];
    PyObject *event_times = args[4] == Py_None ? NULL : args[4];
    if (!PyUnicode_Check(text_object) || !PyDict_Check(span) || (event_times != NULL && !PyList_Check(event_times))) {
        PyErr_SetString(PyExc_TypeError, "expected a str, a dict and a list or None");
        return NULL;
    }
    int overflow;
    long long shift = PyLong_AsLongLongAndOverflow(args[3], &overflow);
    if (shift == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (overflow) {
        Py_RETURN_NONE;
    }
    Py_ssize_t events_before = event_times == NULL ? 0 : PyList_GET_SIZE(event_times);

    TextTimes times;
    memset(&times, 0, offsetof(TextTimes, inline_positions));
    times.event_positions = times.inline_positions;
    times.event_capacity = INLINE_EVENT_TIMES;
    Py_ssize_t text_size;
    times.text = PyUnicode_AsUTF8AndSize(text_object, &text_size);
    if (times.text == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
            return NULL;
        }
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    times.size = (size_t)text_size;
    if (find_keys(&times) < 0) {
        text_times_free(&times);
        return NULL;
    }

    Buffer buffer;
    buffer_init(&buffer);
    PyObject *result = NULL;
    unsigned char trace_id[16];
    unsigned char span_id[8];
    unsigned char parent_id[8] = {0};
    uint64_t start = 0;
    uint64_t end = 0;
    uint64_t sent_start = 0;
    uint64_t sent_end = 0;
    const char *name_text;
    Py_ssize_t name_size;
    PyObject *name = item(span, KEY_NAME);
    PyObject *parent = item(span, KEY_PARENT_SPAN_ID);
    int check = plain_text(name, &name_text, &name_size);
    if (check == PLAIN) {
        check = hex_id(item(span, KEY_TRACE_ID), trace_id, sizeof(trace_id), 0);
    }
    if (check == PLAIN) {
        check = hex_id(item(span, KEY_SPAN_ID), span_id, sizeof(span_id), 0);
    }
    if (check == PLAIN && parent != NULL && parent != Py_None
        && !(PyUnicode_CheckExact(parent) && PyUnicode_GET_LENGTH(parent) == 0)) {
        check = hex_id(parent, parent_id, sizeof(parent_id), 1);
    }
    if (check == PLAIN) {
        check = only_time(&times, &times.start, item(span, KEY_START_TIME), &start);
    }
    if (check == PLAIN) {
        check = only_time(&times, &times.end, item(span, KEY_END_TIME), &end);
    }
    if (check == PLAIN) {
        check = moved(start, shift, &sent_start);
    }
    if (check == PLAIN) {
        check = moved(end, shift, &sent_end);
    }

    if (check == PLAIN && buffer_reserve(&buffer, 2 + 16 + 2 + 8 + 2 + 8) < 0) {
        check = FAILED;
    }
    if (check == PLAIN) {
        put_bytes(&buffer, "\x0a\x10", 2);
        put_bytes(&buffer, trace_id, sizeof(trace_id));
        put_bytes(&buffer, "\x12\x08", 2);
        put_bytes(&buffer, span_id, sizeof(span_id));
        uint64_t parent_number = 0;
        for (size_t byte = 0; byte < sizeof(parent_id); byte++) {
            parent_number = parent_number << 8 | parent_id[byte];
        }
        if (parent_number) {
            put_bytes(&buffer, "\x22\x08", 2);
            put_bytes(&buffer, parent_id, sizeof(parent_id));
        }
        if (name_size && put_field(&buffer, 0x2A, name_text, (size_t)name_size) < 0) {
            check = FAILED;
        }
    }
    if (check == PLAIN && buffer_reserve(&buffer, 2 + 9 + 9) < 0) {
        check = FAILED;
    }
    if (check == PLAIN) {
        put_bytes(&buffer, "\x30\x01", 2);  /* SPAN_KIND_INTERNAL: the format has no span kind */
        if (sent_start) {
            buffer.data[buffer.length++] = 0x39;
            put_fixed64(&buffer, sent_start);
        }
        if (sent_end) {
            buffer.data[buffer.length++] = 0x41;
            put_fixed64(&buffer, sent_end);
        }
        check = put_attributes(&buffer, 0x4A, item(span, KEY_ATTRIBUTES), SMALL_FLOAT);
    }
    if (check == PLAIN) {
        check = put_events(&buffer, item(span, KEY_EVENTS), &times, shift, event_times);
    }
    if (check == PLAIN) {
        check = put_status(&buffer, item(span, KEY_STATUS));
    }

    if (check == PLAIN) {
        uint64_t parent_number = 0;
        uint64_t span_number = 0;
        for (size_t byte = 0; byte < 8; byte++) {
            parent_number = parent_number << 8 | parent_id[byte];
            span_number = span_number << 8 | span_id[byte];
        }
        PyObject *message = PyBytes_FromStringAndSize((const char *)buffer.data, (Py_ssize_t)buffer.length);
        /* The trace ID's text is 32 hexadecimal digits, ended by the str's NUL. */
        PyObject *trace = PyLong_FromString(PyUnicode_AsUTF8(item(span, KEY_TRACE_ID)), NULL, 16);
        if (message != NULL && trace != NULL) {
            result = Py_BuildValue(
                "(ONKKiONNN)", index, trace, span_number, parent_number, 1, name,
                PyLong_FromUnsignedLongLong(start), PyLong_FromUnsignedLongLong(end), message);
            message = NULL;  /* the tuple holds them, or Py_BuildValue released them */
            trace = NULL;
        }
        Py_XDECREF(message);
        Py_XDECREF(trace);
        if (result == NULL) {
            check = FAILED;
        }
    }
    buffer_free(&buffer);
    text_times_free(&times);

    if (check != PLAIN && event_times != NULL && PyList_GET_SIZE(event_times) > events_before) {
        if (PyList_SetSlice(event_times, events_before, PyList_GET_SIZE(event_times), NULL) < 0) {
            Py_XDECREF(result);
            return NULL;
        }
    }
    if (check == FAILED) {
        return NULL;
    }
    if (check == NOT_PLAIN) {
        Py_RETURN_NONE;
    }
    return result;
}


#define NANOS_PER_SECOND 1000000000ULL
#define MAX_SEVERITY 24

/* The time of a [seconds, nanoseconds] timestamp, as plainlog._time reads it. */
static int hr_time(PyObject *value, uint64_t *unix_nano)
{
    if (value == NULL || !PyList_CheckExact(value) || PyList_GET_SIZE(value) != 2) {
        return NOT_PLAIN;
    }
    PyObject *seconds_value = PyList_GET_ITEM(value, 0);
    PyObject *nanos_value = PyList_GET_ITEM(value, 1);
    if (!PyLong_CheckExact(seconds_value) || !PyLong_CheckExact(nanos_value)) {
        return NOT_PLAIN;
    }
    int overflow;
    long long seconds = PyLong_AsLongLongAndOverflow(seconds_value, &overflow);
    if (seconds == -1 && PyErr_Occurred()) {
        return FAILED;
    }
    if (overflow || seconds < 0 || (unsigned long long)seconds > UINT64_MAX / NANOS_PER_SECOND) {
        return NOT_PLAIN;
    }
    long long nanos = PyLong_AsLongLongAndOverflow(nanos_value, &overflow);
    if (nanos == -1 && PyErr_Occurred()) {
        return FAILED;
    }
    if (overflow || nanos < 0 || (unsigned long long)nanos >= NANOS_PER_SECOND) {
        return NOT_PLAIN;
    }
    uint64_t whole = (uint64_t)seconds * NANOS_PER_SECOND;
    if (whole > UINT64_MAX - (uint64_t)nanos) {
        return NOT_PLAIN;
    }
    *unix_nano = whole + (uint64_t)nanos;
    return PLAIN;
}

/* A trace.id or span.id attribute: missing or null gives no ID (size 0). */
static int correlation_id(PyObject *attributes, PyObject *key, unsigned char *bytes, size_t *size)
{
    PyObject *value = attributes == NULL ? NULL : item(attributes, key);
    if (value == NULL || value == Py_None) {
        *size = 0;
        return PLAIN;
    }
    /* The full path sends a record with an invalid or all-zero ID with a notice. */
    return hex_id(value, bytes, *size, 0);
}

/*
 * encode_codemachine_log_message(log, shift) -> (time, trace_id, span_id, message) | None
 *
 * The LogRecord message of a parsed CodeMachine log record, as PlainLogEncoder writes it, with
 * its recorded time and its correlation IDs as bytes (empty where it has none).
 */
static PyObject *encode_codemachine_log_message(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "encode_codemachine_log_message takes 2 arguments");
        return NULL;
    }
    PyObject *log = args[0];
    if (!PyDict_CheckExact(log)) {
        Py_RETURN_NONE;
    }
    int overflow;
    long long shift = PyLong_AsLongLongAndOverflow(args[1], &overflow);
    if (shift == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (overflow) {
        Py_RETURN_NONE;
    }

    uint64_t time = 0;
    uint64_t sent_time = 0;
    int check = hr_time(item(log, KEY_TIMESTAMP), &time);
    if (check == PLAIN) {
        check = moved(time, shift, &sent_time);
    }

    long severity = 0;
    PyObject *severity_number = item(log, KEY_SEVERITY_NUMBER);
    if (check == PLAIN && severity_number != NULL && severity_number != Py_None) {
        if (!PyLong_CheckExact(severity_number)) {
            check = NOT_PLAIN;
        }
        else {
            severity = PyLong_AsLongAndOverflow(severity_number, &overflow);
            if (severity == -1 && PyErr_Occurred()) {
                return NULL;
            }
            if (overflow || severity < 0 || severity > MAX_SEVERITY) {
                check = NOT_PLAIN;
            }
        }
    }
    const char *severity_text = "";
    Py_ssize_t severity_text_size = 0;
    PyObject *severity_text_value = item(log, KEY_SEVERITY_TEXT);
    if (check == PLAIN && severity_text_value != NULL && severity_text_value != Py_None) {
        check = plain_text(severity_text_value, &severity_text, &severity_text_size);
    }
    const char *body = NULL;
    Py_ssize_t body_size = 0;
    PyObject *body_value = item(log, KEY_BODY);
    if (check == PLAIN && body_value != NULL && body_value != Py_None) {
        /* Other bodies are checked and written by the Python path. */
        check = plain_text(body_value, &body, &body_size);
    }
    PyObject *attributes = item(log, KEY_ATTRIBUTES);
    if (attributes == Py_None) {
        attributes = NULL;
    }
    if (check == PLAIN && attributes != NULL && !PyDict_CheckExact(attributes)) {
        check = NOT_PLAIN;
    }
    unsigned char trace_id[16];
    unsigned char span_id[8];
    size_t trace_id_size = sizeof(trace_id);
    size_t span_id_size = sizeof(span_id);
    if (check == PLAIN) {
        check = correlation_id(attributes, KEY_TRACE_ATTRIBUTE, trace_id, &trace_id_size);
    }
    if (check == PLAIN) {
        check = correlation_id(attributes, KEY_SPAN_ATTRIBUTE, span_id, &span_id_size);
    }
    if (check != PLAIN) {
        if (check == FAILED) {
            return NULL;
        }
        Py_RETURN_NONE;
    }

    /* The fields in field-number order, as RequestEncoder.log_message writes them. */
    Buffer buffer;
    buffer_init(&buffer);
    if (sent_time) {
        buffer.data[buffer.length++] = 0x09;
        put_fixed64(&buffer, sent_time);
    }
    if (severity) {
        buffer.data[buffer.length++] = 0x10;
        buffer.data[buffer.length++] = (unsigned char)severity;
    }
    if (severity_text_size && put_field(&buffer, 0x1A, severity_text, (size_t)severity_text_size) < 0) {
        check = FAILED;
    }
    size_t any_value_size = body == NULL ? 0 : 1 + varint_size((uint64_t)body_size) + (size_t)body_size;
    if (check == PLAIN && buffer_reserve(&buffer, 1 + 10 + any_value_size) < 0) {
        check = FAILED;
    }
    if (check == PLAIN) {
        /* The body: an AnyValue with its string set, or the empty AnyValue of null. */
        buffer.data[buffer.length++] = 0x2A;
        put_varint(&buffer, any_value_size);
        if (body != NULL) {
            buffer.data[buffer.length++] = 0x0A;
            put_varint(&buffer, (uint64_t)body_size);
            put_bytes(&buffer, body, (size_t)body_size);
        }
    }
    if (check == PLAIN) {
        check = put_attributes(&buffer, 0x32, attributes, ANY_FLOAT);
    }
    if (check == PLAIN && buffer_reserve(&buffer, 2 + 16 + 2 + 8 + 9) < 0) {
        check = FAILED;
    }
    if (check == PLAIN) {
        if (trace_id_size) {
            put_bytes(&buffer, "\x4a\x10", 2);
            put_bytes(&buffer, trace_id, trace_id_size);
        }
        if (span_id_size) {
            put_bytes(&buffer, "\x52\x08", 2);
            put_bytes(&buffer, span_id, span_id_size);
        }
        if (sent_time) {
            buffer.data[buffer.length++] = 0x59;
            put_fixed64(&buffer, sent_time);
        }
    }

    PyObject *result = NULL;
    if (check == PLAIN) {
        result = Py_BuildValue(
            "(Ky#y#y#)", (unsigned long long)time, (const char *)trace_id, (Py_ssize_t)trace_id_size,
            (const char *)span_id, (Py_ssize_t)span_id_size, (const char *)buffer.data, (Py_ssize_t)buffer.length);
    }
    buffer_free(&buffer);
    if (check == NOT_PLAIN) {
        Py_RETURN_NONE;
    }
    return result;
}


/* ---- OTLP/JSON spans, as plainotlp.PlainOtlpSpanEncoder.encode writes them ---- */

#define UINT32_LIMIT 0xFFFFFFFFULL
#define MAX_DIGITS 20

static PyObject *SPAN_KEYS, *EVENT_KEYS, *LINK_KEYS, *STATUS_KEYS;
static PyObject *KEY_KEY, *KEY_VALUE, *KEY_TRACE_STATE, *KEY_FLAGS, *KEY_KIND, *KEY_START_NANO, *KEY_END_NANO;
static PyObject *KEY_DROPPED_ATTRIBUTES, *KEY_DROPPED_EVENTS, *KEY_DROPPED_LINKS, *KEY_LINKS, *KEY_TIME_NANO;
static PyObject *EMPTY_TEXT;

static const char *const KIND_NAMES[] = {
    "SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT", "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER",
};
static const char *const STATUS_NAMES[] = {"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"};

/* Whether every key of `dict` is in the frozenset `keys`. */
static int keys_within(PyObject *dict, PyObject *keys)
{
    Py_ssize_t position = 0;
    PyObject *key;
    PyObject *value;
    while (PyDict_Next(dict, &position, &key, &value)) {
        int found = PySet_Contains(keys, key);
        if (found <= 0) {
            return found < 0 ? FAILED : NOT_PLAIN;
        }
    }
    return PLAIN;
}

/* A string field: null means empty. */
static int otlp_string(PyObject *value, const char **text, Py_ssize_t *size)
{
    if (value == NULL || value == Py_None) {
        *text = "";
        *size = 0;
        return PLAIN;
    }
    return plain_text(value, text, size);
}

/* An unsigned number written as a number or as a string of at most 20 ASCII digits, as otlp_plain.unsigned reads it. */
static int otlp_unsigned(PyObject *value, uint64_t maximum, uint64_t *number)
{
    if (value == NULL || value == Py_None) {
        *number = 0;
        return PLAIN;
    }
    if (PyLong_CheckExact(value)) {
        int overflow;
        long long signed_number = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (signed_number == -1 && PyErr_Occurred()) {
            return FAILED;
        }
        if (!overflow) {
            if (signed_number < 0 || (uint64_t)signed_number > maximum) {
                return NOT_PLAIN;
            }
            *number = (uint64_t)signed_number;
            return PLAIN;
        }
        unsigned long long wide = PyLong_AsUnsignedLongLong(value);
        if (wide == (unsigned long long)-1 && PyErr_Occurred()) {
            PyErr_Clear();  /* negative or beyond 64 bits */
            return NOT_PLAIN;
        }
        if (wide > maximum) {
            return NOT_PLAIN;
        }
        *number = wide;
        return PLAIN;
    }
    if (!PyUnicode_CheckExact(value)) {
        return NOT_PLAIN;
    }
    const char *text;
    Py_ssize_t size;
    int check = plain_text(value, &text, &size);
    if (check != PLAIN) {
        return check;
    }
    if (size == 0 || size > MAX_DIGITS) {
        return NOT_PLAIN;
    }
    uint64_t result = 0;
    for (Py_ssize_t index = 0; index < size; index++) {
        if (text[index] < '0' || text[index] > '9') {
            return NOT_PLAIN;
        }
        uint64_t digit = (uint64_t)(text[index] - '0');
        if (result > (UINT64_MAX - digit) / 10) {
            return NOT_PLAIN;
        }
        result = result * 10 + digit;
    }
    if (result > maximum) {
        return NOT_PLAIN;
    }
    *number = result;
    return PLAIN;
}

/* An enum written as a number or as a value name, as otlp_plain.enum_number reads it. */
static int otlp_enum(PyObject *value, const char *const *names, long count, long *number)
{
    if (value == NULL || value == Py_None) {
        *number = 0;
        return PLAIN;
    }
    if (PyUnicode_CheckExact(value)) {
        for (long index = 0; index < count; index++) {
            if (PyUnicode_CompareWithASCIIString(value, names[index]) == 0) {
                *number = index;
                return PLAIN;
            }
        }
        return NOT_PLAIN;
    }
    if (!PyLong_CheckExact(value)) {
        return NOT_PLAIN;
    }
    int overflow;
    long result = PyLong_AsLongAndOverflow(value, &overflow);
    if (result == -1 && PyErr_Occurred()) {
        return FAILED;
    }
    if (overflow || result < 0 || result >= count) {
        return NOT_PLAIN;
    }
    *number = result;
    return PLAIN;
}

/* An int64 written as a number or as a string of digits, as otlp_plain._int64 reads it. */
static int otlp_int64(PyObject *value, long long *number)
{
    int overflow;
    if (PyLong_CheckExact(value)) {
        *number = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (*number == -1 && PyErr_Occurred()) {
            return FAILED;
        }
        return overflow ? NOT_PLAIN : PLAIN;
    }
    if (!PyUnicode_CheckExact(value)) {
        return NOT_PLAIN;
    }
    const char *text;
    Py_ssize_t size;
    int check = plain_text(value, &text, &size);
    if (check != PLAIN) {
        return check;
    }
    int negative = size > 0 && text[0] == '-';
    Py_ssize_t digits = size - negative;
    if (digits == 0 || digits > MAX_DIGITS) {
        return NOT_PLAIN;
    }
    uint64_t magnitude = 0;
    for (Py_ssize_t index = negative; index < size; index++) {
        if (text[index] < '0' || text[index] > '9') {
            return NOT_PLAIN;
        }
        uint64_t digit = (uint64_t)(text[index] - '0');
        if (magnitude > (UINT64_MAX - digit) / 10) {
            return NOT_PLAIN;
        }
        magnitude = magnitude * 10 + digit;
    }
    if (negative ? magnitude > (uint64_t)INT64_MAX + 1 : magnitude > (uint64_t)INT64_MAX) {
        return NOT_PLAIN;
    }
    *number = negative ? (long long)(0 - magnitude) : (long long)magnitude;
    return PLAIN;
}

/* Append a varint field, left out when 0 as proto3 does. */
static int put_uint(Buffer *buffer, unsigned char tag, uint64_t number)
{
    if (!number) {
        return PLAIN;
    }
    if (buffer_reserve(buffer, 1 + 10) < 0) {
        return FAILED;
    }
    buffer->data[buffer->length++] = tag;
    put_varint(buffer, number);
    return PLAIN;
}

static void put_fixed32(Buffer *buffer, uint32_t number)
{
    for (int shift = 0; shift < 32; shift += 8) {
        buffer->data[buffer->length++] = (unsigned char)(number >> shift);
    }
}

/*
 * Append the KeyValue fields of an OTLP/JSON list of attributes with scalar values and unique
 * keys. Arrays, kvlists and other values are left to the Python path.
 *
 * TODO: spans with array or kvlist values take the Python path, about three times slower per
 * span. The Collector writes such values mostly in resources, which the workers decode in
 * Python anyway.
 */
static int put_otlp_attributes(Buffer *buffer, unsigned char tag, PyObject *pairs)
{
    if (pairs == NULL || pairs == Py_None) {
        return PLAIN;
    }
    if (!PyList_CheckExact(pairs)) {
        return NOT_PLAIN;
    }
    Py_ssize_t count = PyList_GET_SIZE(pairs);
    for (Py_ssize_t index = 0; index < count; index++) {
        PyObject *pair = PyList_GET_ITEM(pairs, index);
        if (!PyDict_CheckExact(pair)) {
            return NOT_PLAIN;
        }
        PyObject *key = item(pair, KEY_KEY);
        PyObject *value = item(pair, KEY_VALUE);
        if (PyDict_GET_SIZE(pair) != 2 || key == NULL || value == NULL || !PyUnicode_CheckExact(key)) {
            return NOT_PLAIN;  /* missing or null values, and other keys, are left to the Python path */
        }
        for (Py_ssize_t earlier = 0; earlier < index; earlier++) {
            int same = PyUnicode_Compare(key, item(PyList_GET_ITEM(pairs, earlier), KEY_KEY));
            if (same == -1 && PyErr_Occurred()) {
                return FAILED;
            }
            if (same == 0) {
                return NOT_PLAIN;  /* a repeated key, which the general path reports */
            }
        }
        if (!PyDict_CheckExact(value) || PyDict_GET_SIZE(value) != 1) {
            return NOT_PLAIN;
        }
        Py_ssize_t position = 0;
        PyObject *member;
        PyObject *member_value;
        PyDict_Next(value, &position, &member, &member_value);

        /* The value as otlp_plain.plain_value gives it, which put_key_value writes. */
        PyObject *scalar = NULL;
        int check = PLAIN;
        if (PyUnicode_CompareWithASCIIString(member, "stringValue") == 0) {
            if (PyUnicode_CheckExact(member_value)) {
                scalar = Py_NewRef(member_value);
            }
        }
        else if (PyUnicode_CompareWithASCIIString(member, "intValue") == 0) {
            long long number;
            check = otlp_int64(member_value, &number);
            if (check == PLAIN) {
                scalar = PyLong_FromLongLong(number);
                check = scalar == NULL ? FAILED : PLAIN;
            }
        }
        else if (PyUnicode_CompareWithASCIIString(member, "boolValue") == 0) {
            if (PyBool_Check(member_value)) {
                scalar = Py_NewRef(member_value);
            }
        }
        else if (PyUnicode_CompareWithASCIIString(member, "doubleValue") == 0) {
            if (PyFloat_CheckExact(member_value) && isfinite(PyFloat_AS_DOUBLE(member_value))) {
                scalar = Py_NewRef(member_value);
            }
            else if (PyLong_CheckExact(member_value)) {
                double number = PyLong_AsDouble(member_value);
                if (number == -1.0 && PyErr_Occurred()) {
                    PyErr_Clear();  /* beyond a double */
                }
                else {
                    scalar = PyFloat_FromDouble(number);
                    check = scalar == NULL ? FAILED : PLAIN;
                }
            }
        }
        if (check == PLAIN) {
            /* Null members, arrays, kvlists, bytes and unknown members are left to the Python path. */
            check = scalar == NULL ? NOT_PLAIN : put_key_value(buffer, tag, key, scalar, ANY_FLOAT);
        }
        Py_XDECREF(scalar);
        if (check != PLAIN) {
            return check;
        }
    }
    return PLAIN;
}

/* Append the Status field, which is always written. */
static int put_otlp_status(Buffer *buffer, PyObject *status)
{
    long code = 0;
    const char *message = "";
    Py_ssize_t message_size = 0;
    if (status != NULL && status != Py_None) {
        if (!PyDict_CheckExact(status)) {
            return NOT_PLAIN;
        }
        int check = keys_within(status, STATUS_KEYS);
        if (check == PLAIN) {
            check = otlp_enum(item(status, KEY_CODE), STATUS_NAMES, 3, &code);
        }
        if (check == PLAIN) {
            check = otlp_string(item(status, KEY_MESSAGE), &message, &message_size);
        }
        if (check != PLAIN) {
            return check;
        }
    }
    size_t body_size = (message_size ? 1 + varint_size((uint64_t)message_size) + (size_t)message_size : 0)
                       + (code ? 2 : 0);
    if (buffer_reserve(buffer, 1 + 10 + body_size) < 0) {
        return FAILED;
    }
    buffer->data[buffer->length++] = 0x7A;
    put_varint(buffer, body_size);
    if (message_size) {
        buffer->data[buffer->length++] = 0x12;
        put_varint(buffer, (uint64_t)message_size);
        put_bytes(buffer, message, (size_t)message_size);
    }
    if (code) {
        buffer->data[buffer->length++] = 0x18;
        buffer->data[buffer->length++] = (unsigned char)code;
    }
    return PLAIN;
}

static int put_otlp_events(Buffer *buffer, PyObject *events, long long shift)
{
    if (events == NULL || events == Py_None) {
        return PLAIN;
    }
    if (!PyList_CheckExact(events)) {
        return NOT_PLAIN;
    }
    Buffer body;
    buffer_init(&body);
    int check = PLAIN;
    for (Py_ssize_t index = 0; index < PyList_GET_SIZE(events) && check == PLAIN; index++) {
        PyObject *event = PyList_GET_ITEM(events, index);
        if (!PyDict_CheckExact(event)) {
            check = NOT_PLAIN;
            break;
        }
        uint64_t recorded = 0;
        uint64_t time = 0;
        uint64_t dropped = 0;
        const char *name;
        Py_ssize_t name_size;
        check = keys_within(event, EVENT_KEYS);
        if (check == PLAIN) {
            check = otlp_unsigned(item(event, KEY_TIME_NANO), UINT64_MAX, &recorded);
        }
        if (check == PLAIN) {
            check = moved(recorded, shift, &time);
        }
        if (check == PLAIN) {
            check = otlp_string(item(event, KEY_NAME), &name, &name_size);
        }
        if (check == PLAIN) {
            check = otlp_unsigned(item(event, KEY_DROPPED_ATTRIBUTES), UINT32_LIMIT, &dropped);
        }
        if (check != PLAIN) {
            break;
        }
        body.length = 0;
        if (time) {
            body.data[body.length++] = 0x09;
            put_fixed64(&body, time);
        }
        if (name_size && put_field(&body, 0x12, name, (size_t)name_size) < 0) {
            check = FAILED;
            break;
        }
        check = put_otlp_attributes(&body, 0x1A, item(event, KEY_ATTRIBUTES));
        if (check == PLAIN) {
            check = put_uint(&body, 0x20, dropped);
        }
        if (check == PLAIN && put_field(buffer, 0x5A, body.data, body.length) < 0) {
            check = FAILED;
        }
    }
    buffer_free(&body);
    return check;
}

static int put_otlp_links(Buffer *buffer, PyObject *links)
{
    if (links == NULL || links == Py_None) {
        return PLAIN;
    }
    if (!PyList_CheckExact(links)) {
        return NOT_PLAIN;
    }
    Buffer body;
    buffer_init(&body);
    int check = PLAIN;
    for (Py_ssize_t index = 0; index < PyList_GET_SIZE(links) && check == PLAIN; index++) {
        PyObject *link = PyList_GET_ITEM(links, index);
        if (!PyDict_CheckExact(link)) {
            check = NOT_PLAIN;
            break;
        }
        unsigned char trace_id[16];
        unsigned char span_id[8];
        const char *trace_state;
        Py_ssize_t trace_state_size;
        uint64_t dropped = 0;
        uint64_t flags = 0;
        check = keys_within(link, LINK_KEYS);
        if (check == PLAIN) {
            check = hex_id(item(link, KEY_TRACE_ID), trace_id, sizeof(trace_id), 0);
        }
        if (check == PLAIN) {
            check = hex_id(item(link, KEY_SPAN_ID), span_id, sizeof(span_id), 0);
        }
        if (check == PLAIN) {
            check = otlp_string(item(link, KEY_TRACE_STATE), &trace_state, &trace_state_size);
        }
        if (check == PLAIN) {
            check = otlp_unsigned(item(link, KEY_DROPPED_ATTRIBUTES), UINT32_LIMIT, &dropped);
        }
        if (check == PLAIN) {
            check = otlp_unsigned(item(link, KEY_FLAGS), UINT32_LIMIT, &flags);
        }
        if (check != PLAIN) {
            break;
        }
        body.length = 0;
        put_bytes(&body, "\x0a\x10", 2);
        put_bytes(&body, trace_id, sizeof(trace_id));
        put_bytes(&body, "\x12\x08", 2);
        put_bytes(&body, span_id, sizeof(span_id));
        if (trace_state_size && put_field(&body, 0x1A, trace_state, (size_t)trace_state_size) < 0) {
            check = FAILED;
            break;
        }
        check = put_otlp_attributes(&body, 0x22, item(link, KEY_ATTRIBUTES));
        if (check == PLAIN) {
            check = put_uint(&body, 0x28, dropped);
        }
        if (check == PLAIN && flags) {
            if (buffer_reserve(&body, 5) < 0) {
                check = FAILED;
                break;
            }
            body.data[body.length++] = 0x35;
            put_fixed32(&body, (uint32_t)flags);
        }
        if (check == PLAIN && put_field(buffer, 0x6A, body.data, body.length) < 0) {
            check = FAILED;
        }
    }
    buffer_free(&body);
    return check;
}

/*
 * encode_otlp_span(span, shift) -> tuple | None
 *
 * The compiled form of PlainOtlpSpanEncoder.encode for spans with scalar attribute values.
 */
static PyObject *encode_otlp_span(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "encode_otlp_span takes 2 arguments");
        return NULL;
    }
    PyObject *span = args[0];
    if (!PyDict_CheckExact(span)) {
        Py_RETURN_NONE;
    }
    int overflow;
    long long shift = PyLong_AsLongLongAndOverflow(args[1], &overflow);
    if (shift == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (overflow) {
        Py_RETURN_NONE;
    }

    unsigned char trace_id[16];
    unsigned char span_id[8];
    unsigned char parent_id[8] = {0};
    const char *name_text;
    Py_ssize_t name_size;
    const char *trace_state;
    Py_ssize_t trace_state_size;
    long kind = 0;
    uint64_t start = 0, end = 0, sent_start = 0, sent_end = 0;
    uint64_t dropped_attributes = 0, dropped_events = 0, dropped_links = 0, flags = 0;
    PyObject *name = item(span, KEY_NAME);
    PyObject *parent = item(span, KEY_PARENT_SPAN_ID);

    int check = keys_within(span, SPAN_KEYS);
    if (check == PLAIN) {
        check = hex_id(item(span, KEY_TRACE_ID), trace_id, sizeof(trace_id), 0);
    }
    if (check == PLAIN) {
        check = hex_id(item(span, KEY_SPAN_ID), span_id, sizeof(span_id), 0);
    }
    if (check == PLAIN && parent != NULL && parent != Py_None
        && !(PyUnicode_CheckExact(parent) && PyUnicode_GET_LENGTH(parent) == 0)) {
        check = hex_id(parent, parent_id, sizeof(parent_id), 1);
    }
    if (check == PLAIN) {
        check = otlp_string(name, &name_text, &name_size);
    }
    if (check == PLAIN) {
        check = otlp_enum(item(span, KEY_KIND), KIND_NAMES, 6, &kind);
    }
    if (check == PLAIN) {
        check = otlp_unsigned(item(span, KEY_START_NANO), UINT64_MAX, &start);
    }
    if (check == PLAIN) {
        check = otlp_unsigned(item(span, KEY_END_NANO), UINT64_MAX, &end);
    }
    if (check == PLAIN) {
        check = moved(start, shift, &sent_start);
    }
    if (check == PLAIN) {
        check = moved(end, shift, &sent_end);
    }
    if (check == PLAIN) {
        check = otlp_string(item(span, KEY_TRACE_STATE), &trace_state, &trace_state_size);
    }
    if (check == PLAIN) {
        check = otlp_unsigned(item(span, KEY_DROPPED_ATTRIBUTES), UINT32_LIMIT, &dropped_attributes);
    }
    if (check == PLAIN) {
        check = otlp_unsigned(item(span, KEY_DROPPED_EVENTS), UINT32_LIMIT, &dropped_events);
    }
    if (check == PLAIN) {
        check = otlp_unsigned(item(span, KEY_DROPPED_LINKS), UINT32_LIMIT, &dropped_links);
    }
    if (check == PLAIN) {
        check = otlp_unsigned(item(span, KEY_FLAGS), UINT32_LIMIT, &flags);
    }
    if (check != PLAIN) {
        if (check == FAILED) {
            return NULL;
        }
        Py_RETURN_NONE;
    }

    uint64_t parent_number = 0;
    uint64_t span_number = 0;
    for (size_t byte = 0; byte < 8; byte++) {
        parent_number = parent_number << 8 | parent_id[byte];
        span_number = span_number << 8 | span_id[byte];
    }

    /* The fields in field-number order, as RequestEncoder.span_message writes them. */
    Buffer buffer;
    buffer_init(&buffer);
    put_bytes(&buffer, "\x0a\x10", 2);
    put_bytes(&buffer, trace_id, sizeof(trace_id));
    put_bytes(&buffer, "\x12\x08", 2);
    put_bytes(&buffer, span_id, sizeof(span_id));
    if (trace_state_size && put_field(&buffer, 0x1A, trace_state, (size_t)trace_state_size) < 0) {
        check = FAILED;
    }
    if (check == PLAIN && parent_number && buffer_reserve(&buffer, 10) == 0) {
        put_bytes(&buffer, "\x22\x08", 2);
        put_bytes(&buffer, parent_id, sizeof(parent_id));
    }
    if (check == PLAIN && name_size && put_field(&buffer, 0x2A, name_text, (size_t)name_size) < 0) {
        check = FAILED;
    }
    if (check == PLAIN) {
        check = put_uint(&buffer, 0x30, (uint64_t)kind);
    }
    if (check == PLAIN && buffer_reserve(&buffer, 18) < 0) {
        check = FAILED;
    }
    if (check == PLAIN) {
        if (sent_start) {
            buffer.data[buffer.length++] = 0x39;
            put_fixed64(&buffer, sent_start);
        }
        if (sent_end) {
            buffer.data[buffer.length++] = 0x41;
            put_fixed64(&buffer, sent_end);
        }
        check = put_otlp_attributes(&buffer, 0x4A, item(span, KEY_ATTRIBUTES));
    }
    if (check == PLAIN) {
        check = put_uint(&buffer, 0x50, dropped_attributes);
    }
    if (check == PLAIN) {
        check = put_otlp_events(&buffer, item(span, KEY_EVENTS), shift);
    }
    if (check == PLAIN) {
        check = put_uint(&buffer, 0x60, dropped_events);
    }
    if (check == PLAIN) {
        check = put_otlp_links(&buffer, item(span, KEY_LINKS));
    }
    if (check == PLAIN) {
        check = put_uint(&buffer, 0x70, dropped_links);
    }
    if (check == PLAIN) {
        check = put_otlp_status(&buffer, item(span, KEY_STATUS));
    }
    if (check == PLAIN && flags) {
        if (buffer_reserve(&buffer, 6) < 0) {
            check = FAILED;
        }
        else {
            put_bytes(&buffer, "\x85\x01", 2);
            put_fixed32(&buffer, (uint32_t)flags);
        }
    }

    PyObject *result = NULL;
    if (check == PLAIN) {
        PyObject *trace = PyLong_FromString(PyUnicode_AsUTF8(item(span, KEY_TRACE_ID)), NULL, 16);
        if (trace != NULL) {
            result = Py_BuildValue(
                "(NKKlOKKy#)", trace, span_number, parent_number, kind, name_size ? name : EMPTY_TEXT,
                start, end, (const char *)buffer.data, (Py_ssize_t)buffer.length);
        }
        if (result == NULL) {
            check = FAILED;
        }
    }
    buffer_free(&buffer);
    if (check == NOT_PLAIN) {
        Py_RETURN_NONE;
    }
    return result;
}

/* ---- The bulk loops of index.FingerprintTable ---- */

enum { MERGE_BITS = 0, COUNT = 1, ADD = 2 };

/* A table's arrays, as index.FingerprintTable keeps them: two words per slot and a value of 1 or 8 bytes. */
typedef struct {
    Py_buffer highs;
    Py_buffer lows;
    Py_buffer values;
    size_t capacity;
} Table;

static int table_open(Table *table, PyObject *highs, PyObject *lows, PyObject *values)
{
    memset(table, 0, sizeof(*table));
    if (PyObject_GetBuffer(highs, &table->highs, PyBUF_WRITABLE) < 0) {
        return -1;
    }
    if (PyObject_GetBuffer(lows, &table->lows, PyBUF_WRITABLE) < 0) {
        PyBuffer_Release(&table->highs);
        return -1;
    }
    if (PyObject_GetBuffer(values, &table->values, PyBUF_WRITABLE) < 0) {
        PyBuffer_Release(&table->highs);
        PyBuffer_Release(&table->lows);
        return -1;
    }
    table->capacity = (size_t)table->highs.len / 8;
    size_t value_size = table->capacity ? (size_t)table->values.len / table->capacity : 0;
    if ((size_t)table->lows.len != table->capacity * 8 || (value_size != 1 && value_size != 8)
        || (size_t)table->values.len != table->capacity * value_size
        || (table->capacity & (table->capacity - 1)) != 0) {
        PyErr_SetString(PyExc_ValueError, "expected the arrays of one table, of a power-of-two capacity");
        PyBuffer_Release(&table->highs);
        PyBuffer_Release(&table->lows);
        PyBuffer_Release(&table->values);
        return -1;
    }
    return 0;
}

static void table_close(Table *table)
{
    PyBuffer_Release(&table->highs);
    PyBuffer_Release(&table->lows);
    PyBuffer_Release(&table->values);
}

static uint64_t table_value(const Table *table, size_t slot)
{
    if ((size_t)table->values.len == table->capacity) {
        return ((const uint8_t *)table->values.buf)[slot];
    }
    uint64_t value;
    memcpy(&value, (const char *)table->values.buf + 8 * slot, 8);
    return value;
}

/* Store a value; the caller checks that it fits a table of 1-byte values. */
static void table_set_value(Table *table, size_t slot, uint64_t value)
{
    if ((size_t)table->values.len == table->capacity) {
        ((uint8_t *)table->values.buf)[slot] = (uint8_t)value;
    }
    else {
        memcpy((char *)table->values.buf + 8 * slot, &value, 8);
    }
}

/* The slot that contains the fingerprint, or the empty slot where it would go, as FingerprintTable._slot finds it. */
static size_t table_slot(const Table *table, uint64_t high, uint64_t low)
{
    const uint64_t *highs = table->highs.buf;
    const uint64_t *lows = table->lows.buf;
    size_t mask = table->capacity - 1;
    size_t slot = (size_t)((low ^ high) & mask);
    while (1) {
        if ((lows[slot] == low && highs[slot] == high) || (lows[slot] == 0 && highs[slot] == 0)) {
            return slot;
        }
        slot = (slot + 1) & mask;
    }
}

/* Read a fingerprint, a tuple of two unsigned 64-bit words; 0 on success, -1 with an exception set. */
static int fingerprint_words(PyObject *fingerprint, uint64_t *high, uint64_t *low)
{
    if (!PyTuple_Check(fingerprint) || PyTuple_GET_SIZE(fingerprint) != 2) {
        PyErr_SetString(PyExc_TypeError, "a fingerprint is a tuple of two 64-bit words");
        return -1;
    }
    *high = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(fingerprint, 0));
    if (*high == (uint64_t)-1 && PyErr_Occurred()) {
        return -1;
    }
    *low = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(fingerprint, 1));
    if (*low == (uint64_t)-1 && PyErr_Occurred()) {
        return -1;
    }
    if (*low == 0 && *high == 0) {
        *low = 1;  /* the all-zero fingerprint is stored as (0, 1), since (0, 0) marks an empty slot */
    }
    return 0;
}

/*
 * table_update(highs, lows, values, size, limit, fingerprints, mode, operand, position, positions)
 *     -> (size, position, done)
 *
 * Run the loop of FingerprintTable.merge_bits_many (MERGE_BITS, with the bits as operand),
 * count_many (COUNT, with the tag) or add_many (ADD) over the iterator `fingerprints`,
 * appending to `positions` what the method returns. It stops after an insertion takes the
 * size past `limit`, so that the table grows where the Python loop grows it. The caller then
 * grows the arrays and calls again with the same iterator, until `done` is true.
 */
static PyObject *table_update(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 10) {
        PyErr_SetString(PyExc_TypeError, "table_update takes 10 arguments");
        return NULL;
    }
    Py_ssize_t size = PyLong_AsSsize_t(args[3]);
    Py_ssize_t limit = PyLong_AsSsize_t(args[4]);
    PyObject *fingerprints = args[5];
    long mode = PyLong_AsLong(args[6]);
    uint64_t operand = PyLong_AsUnsignedLongLong(args[7]);
    Py_ssize_t position = PyLong_AsSsize_t(args[8]);
    PyObject *positions = args[9];
    if (PyErr_Occurred()) {
        return NULL;
    }
    if (!PyIter_Check(fingerprints) || !PyList_Check(positions) || mode < MERGE_BITS || mode > ADD) {
        PyErr_SetString(PyExc_TypeError, "expected an iterator of fingerprints, a mode and a list of positions");
        return NULL;
    }
    Table table;
    if (table_open(&table, args[0], args[1], args[2]) < 0) {
        return NULL;
    }
    uint64_t *highs = table.highs.buf;
    uint64_t *lows = table.lows.buf;
    int done = 0;
    int failed = 0;
    while (size <= limit) {
        PyObject *fingerprint = PyIter_Next(fingerprints);
        if (fingerprint == NULL) {
            failed = PyErr_Occurred() != NULL;
            done = 1;
            break;
        }
        uint64_t high;
        uint64_t low;
        int words = fingerprint_words(fingerprint, &high, &low);
        Py_DECREF(fingerprint);
        if (words < 0) {
            failed = 1;
            break;
        }
        size_t slot = table_slot(&table, high, low);
        uint64_t old = table_value(&table, slot);
        uint64_t value;
        int keep = 1;  /* store `value`, or report the position and leave the slot as it is */
        if (mode == MERGE_BITS) {
            keep = !(old & operand);
            value = old | operand;
        }
        else if (mode == COUNT) {
            keep = !old || old >> 32 == operand >> 32;
            value = (old ? old : operand) + 1;
        }
        else {
            value = old + 1;
        }
        if (!keep) {
            PyObject *number = PyLong_FromSsize_t(position);
            if (number == NULL || PyList_Append(positions, number) < 0) {
                Py_XDECREF(number);
                failed = 1;
                break;
            }
            Py_DECREF(number);
        }
        else {
            if ((size_t)table.values.len == table.capacity && value > 0xFF) {
                PyErr_SetString(PyExc_OverflowError, "the value does not fit the table's 1-byte values");
                failed = 1;
                break;
            }
            table_set_value(&table, slot, value);
            if (lows[slot] == 0 && highs[slot] == 0) {
                highs[slot] = high;
                lows[slot] = low;
                size++;
            }
        }
        position++;
    }
    table_close(&table);
    if (failed) {
        return NULL;
    }
    return Py_BuildValue("(nnO)", size, position, done ? Py_True : Py_False);
}

/* table_rehash(old_highs, old_lows, old_values, highs, lows, values): move every entry into a larger, empty table. */
static PyObject *table_rehash(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "table_rehash takes 6 arguments");
        return NULL;
    }
    Table old;
    Table table;
    if (table_open(&old, args[0], args[1], args[2]) < 0) {
        return NULL;
    }
    if (table_open(&table, args[3], args[4], args[5]) < 0) {
        table_close(&old);
        return NULL;
    }
    const uint64_t *old_highs = old.highs.buf;
    const uint64_t *old_lows = old.lows.buf;
    uint64_t *highs = table.highs.buf;
    uint64_t *lows = table.lows.buf;
    size_t mask = table.capacity - 1;
    for (size_t from = 0; from < old.capacity; from++) {
        if (old_lows[from] == 0 && old_highs[from] == 0) {
            continue;
        }
        size_t slot = (size_t)((old_lows[from] ^ old_highs[from]) & mask);
        while (lows[slot] || highs[slot]) {  /* every fingerprint is distinct, so the first empty slot is its place */
            slot = (slot + 1) & mask;
        }
        highs[slot] = old_highs[from];
        lows[slot] = old_lows[from];
        table_set_value(&table, slot, table_value(&old, from));
    }
    table_close(&old);
    table_close(&table);
    Py_RETURN_NONE;
}

static PyMethodDef speedups_methods[] = {
    {"encode_codemachine_span", (PyCFunction)(void (*)(void))encode_codemachine_span, METH_FASTCALL,
     "Return PlainSpanEncoder.encode_text's result for a parsed CodeMachine span, or None to leave it to Python."},
    {"encode_codemachine_log_message", (PyCFunction)(void (*)(void))encode_codemachine_log_message, METH_FASTCALL,
     "Return the recorded time, correlation IDs and LogRecord message of a parsed CodeMachine log record, "
     "or None to leave it to Python."},
    {"table_update", (PyCFunction)(void (*)(void))table_update, METH_FASTCALL,
     "Run a bulk update of a FingerprintTable's arrays; see index.py."},
    {"table_rehash", (PyCFunction)(void (*)(void))table_rehash, METH_FASTCALL,
     "Move a FingerprintTable's entries into larger arrays; see index.py."},
    {"encode_otlp_span", (PyCFunction)(void (*)(void))encode_otlp_span, METH_FASTCALL,
     "Return PlainOtlpSpanEncoder.encode's result for a parsed OTLP/JSON span, or None to leave it to Python."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_speedups",
    .m_doc = "Compiled encoders for the workers' plain paths.",
    .m_size = -1,
    .m_methods = speedups_methods,
};

static int intern_key(PyObject **key, const char *text)
{
    *key = PyUnicode_InternFromString(text);
    return *key == NULL ? -1 : 0;
}

/* A frozenset of the JSON names of a message's fields. */
static PyObject *key_set(size_t count, const char *const *names)
{
    PyObject *set = PyFrozenSet_New(NULL);
    for (size_t index = 0; set != NULL && index < count; index++) {
        PyObject *name = PyUnicode_InternFromString(names[index]);
        if (name == NULL || PySet_Add(set, name) < 0) {
            Py_CLEAR(set);
        }
        Py_XDECREF(name);
    }
    return set;
}

PyMODINIT_FUNC PyInit__speedups(void)
{
    if (intern_key(&KEY_NAME, "name") < 0 || intern_key(&KEY_TRACE_ID, "traceId") < 0
        || intern_key(&KEY_SPAN_ID, "spanId") < 0 || intern_key(&KEY_PARENT_SPAN_ID, "parentSpanId") < 0
        || intern_key(&KEY_START_TIME, "startTime") < 0 || intern_key(&KEY_END_TIME, "endTime") < 0
        || intern_key(&KEY_STATUS, "status") < 0 || intern_key(&KEY_CODE, "code") < 0
        || intern_key(&KEY_MESSAGE, "message") < 0 || intern_key(&KEY_ATTRIBUTES, "attributes") < 0
        || intern_key(&KEY_EVENTS, "events") < 0 || intern_key(&KEY_TIME, "time") < 0
        || intern_key(&KEY_TIMESTAMP, "timestamp") < 0 || intern_key(&KEY_SEVERITY_NUMBER, "severityNumber") < 0
        || intern_key(&KEY_SEVERITY_TEXT, "severityText") < 0 || intern_key(&KEY_BODY, "body") < 0
        || intern_key(&KEY_TRACE_ATTRIBUTE, "trace.id") < 0 || intern_key(&KEY_SPAN_ATTRIBUTE, "span.id") < 0
        || intern_key(&KEY_KEY, "key") < 0 || intern_key(&KEY_VALUE, "value") < 0
        || intern_key(&KEY_TRACE_STATE, "traceState") < 0 || intern_key(&KEY_FLAGS, "flags") < 0
        || intern_key(&KEY_KIND, "kind") < 0 || intern_key(&KEY_START_NANO, "startTimeUnixNano") < 0
        || intern_key(&KEY_END_NANO, "endTimeUnixNano") < 0
        || intern_key(&KEY_DROPPED_ATTRIBUTES, "droppedAttributesCount") < 0
        || intern_key(&KEY_DROPPED_EVENTS, "droppedEventsCount") < 0
        || intern_key(&KEY_DROPPED_LINKS, "droppedLinksCount") < 0 || intern_key(&KEY_LINKS, "links") < 0
        || intern_key(&KEY_TIME_NANO, "timeUnixNano") < 0 || intern_key(&EMPTY_TEXT, "") < 0) {
        return NULL;
    }
    SPAN_KEYS = key_set(16, (const char *const[]){
        "traceId", "spanId", "traceState", "parentSpanId", "flags", "name", "kind", "startTimeUnixNano",
        "endTimeUnixNano", "attributes", "droppedAttributesCount", "events", "droppedEventsCount", "links",
        "droppedLinksCount", "status"});
    EVENT_KEYS = key_set(4, (const char *const[]){"timeUnixNano", "name", "attributes", "droppedAttributesCount"});
    LINK_KEYS = key_set(6, (const char *const[]){
        "traceId", "spanId", "traceState", "attributes", "droppedAttributesCount", "flags"});
    STATUS_KEYS = key_set(2, (const char *const[]){"message", "code"});
    if (SPAN_KEYS == NULL || EVENT_KEYS == NULL || LINK_KEYS == NULL || STATUS_KEYS == NULL) {
        return NULL;
    }
    return PyModule_Create(&speedups_module);
}
