; ragls tag query for Java. Capture names as in python.scm.

(package_declaration [(identifier) (scoped_identifier)] @name.definition.package) @definition.package
(class_declaration name: (identifier) @name.definition.class) @definition.class
(interface_declaration name: (identifier) @name.definition.interface) @definition.interface
(annotation_type_declaration name: (identifier) @name.definition.interface) @definition.interface
(enum_declaration name: (identifier) @name.definition.enum) @definition.enum
(record_declaration name: (identifier) @name.definition.record) @definition.record
(method_declaration name: (identifier) @name.definition.method) @definition.method
(constructor_declaration name: (identifier) @name.definition.method) @definition.method
(field_declaration declarator: (variable_declarator name: (identifier) @name.definition.field)) @definition.field
(constant_declaration declarator: (variable_declarator name: (identifier) @name.definition.constant)) @definition.constant

(import_declaration) @import

(method_invocation name: (identifier) @name.reference.call)
(object_creation_expression type: (type_identifier) @name.reference.type)
(field_access field: (identifier) @name.reference.attribute)
(type_identifier) @name.reference.type
(identifier) @name.reference.name

(formal_parameter name: (identifier) @skip)

(ERROR) @error
(MISSING) @error
