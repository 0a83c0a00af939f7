package restgw

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// unknownFieldError is a query parameter that names no field of the request.
type unknownFieldError struct{ name string }

func (e *unknownFieldError) Error() string { return fmt.Sprintf("no field %q", e.name) }

// findField finds a field by its JSON name (pageSize) or its proto name (page_size).
func findField(md protoreflect.MessageDescriptor, name string) protoreflect.FieldDescriptor {
	fields := md.Fields()
	if fd := fields.ByJSONName(name); fd != nil {
		return fd
	}
	return fields.ByName(protoreflect.Name(name))
}

// fieldPath resolves a dotted field path ("service.name") in md to its last field.
func fieldPath(md protoreflect.MessageDescriptor, path string) (protoreflect.FieldDescriptor, error) {
	parts := strings.Split(path, ".")
	for i, p := range parts {
		fd := findField(md, p)
		if fd == nil {
			return nil, &unknownFieldError{path}
		}
		if i == len(parts)-1 {
			return fd, nil
		}
		if fd.Message() == nil || fd.IsList() || fd.IsMap() {
			return nil, fmt.Errorf("%s is not a message field", strings.Join(parts[:i+1], "."))
		}
		md = fd.Message()
	}
	return nil, &unknownFieldError{path}
}

// setField sets the field at a dotted path of m from text values (path variables and query
// parameters): a repeated field takes every value, another field the last one.
func setField(m protoreflect.Message, path string, vals []string) error {
	if len(vals) == 0 {
		return nil
	}
	parts := strings.Split(path, ".")
	for i, p := range parts {
		fd := findField(m.Descriptor(), p)
		if fd == nil {
			return &unknownFieldError{path}
		}
		if i < len(parts)-1 {
			if fd.Message() == nil || fd.IsList() || fd.IsMap() {
				return fmt.Errorf("%s is not a message field", strings.Join(parts[:i+1], "."))
			}
			m = m.Mutable(fd).Message()
			continue
		}
		switch {
		case fd.IsMap():
			return fmt.Errorf("map field %s cannot be set from a query parameter", path)
		case fd.IsList():
			list := m.Mutable(fd).List()
			for _, v := range vals {
				pv, err := parseValue(fd, v, list.NewElement)
				if err != nil {
					return err
				}
				list.Append(pv)
			}
		default:
			pv, err := parseValue(fd, vals[len(vals)-1], func() protoreflect.Value { return m.NewField(fd) })
			if err != nil {
				return err
			}
			m.Set(fd, pv)
		}
	}
	return nil
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1":
		return true, nil
	case "false", "0", "":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean: %q", s)
}

// parseValue reads one value of fd from text. Messages are the well-known types Google's
// front end reads from a query parameter: FieldMask (comma-separated lowerCamel or snake
// paths), Timestamp and Duration (their JSON strings) and the wrappers.
func parseValue(fd protoreflect.FieldDescriptor, s string, newMsg func() protoreflect.Value) (protoreflect.Value, error) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		b, err := parseBool(s)
		return protoreflect.ValueOfBool(b), err
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		n, err := strconv.ParseInt(s, 10, 32)
		return protoreflect.ValueOfInt32(int32(n)), err
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		n, err := strconv.ParseInt(s, 10, 64)
		return protoreflect.ValueOfInt64(n), err
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		n, err := strconv.ParseUint(s, 10, 32)
		return protoreflect.ValueOfUint32(uint32(n)), err
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		n, err := strconv.ParseUint(s, 10, 64)
		return protoreflect.ValueOfUint64(n), err
	case protoreflect.FloatKind:
		f, err := strconv.ParseFloat(s, 32)
		return protoreflect.ValueOfFloat32(float32(f)), err
	case protoreflect.DoubleKind:
		f, err := strconv.ParseFloat(s, 64)
		return protoreflect.ValueOfFloat64(f), err
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(s), nil
	case protoreflect.BytesKind:
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(s); err == nil {
				return protoreflect.ValueOfBytes(b), nil
			}
		}
		return protoreflect.Value{}, fmt.Errorf("not base64: %q", s)
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByName(protoreflect.Name(s)); ev != nil {
			return protoreflect.ValueOfEnum(ev.Number()), nil
		}
		if n, err := strconv.ParseInt(s, 10, 32); err == nil {
			return protoreflect.ValueOfEnum(protoreflect.EnumNumber(n)), nil
		}
		return protoreflect.Value{}, fmt.Errorf("not a value of %s", fd.Enum().FullName())
	case protoreflect.MessageKind, protoreflect.GroupKind:
		v := newMsg()
		msg := v.Message()
		switch name := fd.Message().FullName(); name {
		case "google.protobuf.FieldMask":
			fm := msg.Interface().(*fieldmaskpb.FieldMask)
			fm.Paths = parseFieldMask(s)
			return v, nil
		case "google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.StringValue",
			"google.protobuf.BytesValue", "google.protobuf.Int64Value", "google.protobuf.UInt64Value":
			b, _ := json.Marshal(s)
			return v, protojson.Unmarshal(b, msg.Interface())
		case "google.protobuf.BoolValue", "google.protobuf.Int32Value", "google.protobuf.UInt32Value",
			"google.protobuf.FloatValue", "google.protobuf.DoubleValue":
			inner := msg.Descriptor().Fields().ByName("value")
			iv, err := parseValue(inner, s, nil)
			if err != nil {
				return protoreflect.Value{}, err
			}
			msg.Set(inner, iv)
			return v, nil
		default:
			return protoreflect.Value{}, fmt.Errorf("message field of type %s cannot be set from text", name)
		}
	}
	return protoreflect.Value{}, fmt.Errorf("unsupported field kind %v", fd.Kind())
}

// parseFieldMask reads a FieldMask's JSON form, "a.bC,d", into proto paths ("a.b_c", "d");
// snake_case paths are taken as they are.
func parseFieldMask(s string) []string {
	var paths []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		var b strings.Builder
		for _, r := range p {
			if unicode.IsUpper(r) {
				b.WriteByte('_')
				b.WriteRune(unicode.ToLower(r))
				continue
			}
			b.WriteRune(r)
		}
		paths = append(paths, b.String())
	}
	return paths
}
