; ragls tag query: TypeScript-only patterns, added to javascript.scm for typescript and tsx.

(abstract_class_declaration name: (_) @name.definition.class) @definition.class
(interface_declaration name: (_) @name.definition.interface) @definition.interface
(type_alias_declaration name: (_) @name.definition.type) @definition.type
(enum_declaration name: (_) @name.definition.enum) @definition.enum
(internal_module name: (_) @name.definition.module) @definition.module
(function_signature name: (_) @name.definition.function) @definition.function
(method_signature name: (_) @name.definition.method) @definition.method
(abstract_method_signature name: (_) @name.definition.method) @definition.method

(import_require_clause) @import

(type_identifier) @name.reference.type
(required_parameter pattern: (identifier) @skip)
(optional_parameter pattern: (identifier) @skip)
