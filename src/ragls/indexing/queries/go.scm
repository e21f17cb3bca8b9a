; ragls tag query for Go. Capture names as in python.scm.

(package_clause (package_identifier) @name.definition.package) @definition.package
(function_declaration name: (identifier) @name.definition.function) @definition.function
(method_declaration name: (field_identifier) @name.definition.method) @definition.method
(type_spec name: (type_identifier) @name.definition.struct type: (struct_type)) @definition.struct
(type_spec name: (type_identifier) @name.definition.interface type: (interface_type)) @definition.interface
(type_spec name: (type_identifier) @name.definition.type) @definition.type
(type_alias name: (type_identifier) @name.definition.type) @definition.type
(method_elem name: (field_identifier) @name.definition.method) @definition.method
(source_file (const_declaration (const_spec name: (identifier) @name.definition.constant) @definition.constant))
(source_file (var_declaration (var_spec name: (identifier) @name.definition.variable) @definition.variable))

(import_declaration) @import

(call_expression function: (identifier) @name.reference.call)
(call_expression function: (selector_expression field: (field_identifier) @name.reference.call))
(selector_expression field: (field_identifier) @name.reference.attribute)
(type_identifier) @name.reference.type
(identifier) @name.reference.name

(parameter_declaration name: (identifier) @skip)

(ERROR) @error
(MISSING) @error
