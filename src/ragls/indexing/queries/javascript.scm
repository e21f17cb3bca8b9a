; ragls tag query: ECMAScript patterns shared by javascript, typescript and tsx
; (see languages.py for how query files are combined). Capture names as in python.scm.

(function_declaration name: (_) @name.definition.function) @definition.function
(generator_function_declaration name: (_) @name.definition.function) @definition.function
(class_declaration name: (_) @name.definition.class) @definition.class
(method_definition name: (_) @name.definition.method) @definition.method
(program (lexical_declaration
  (variable_declarator name: (identifier) @name.definition.function
    value: [(arrow_function) (function_expression) (generator_function)]) @definition.function))
(program (export_statement declaration: (lexical_declaration
  (variable_declarator name: (identifier) @name.definition.function
    value: [(arrow_function) (function_expression) (generator_function)]) @definition.function)))
(program (lexical_declaration
  (variable_declarator name: (identifier) @name.definition.constant) @definition.constant))
(program (export_statement declaration: (lexical_declaration
  (variable_declarator name: (identifier) @name.definition.constant) @definition.constant)))
(program (variable_declaration
  (variable_declarator name: (identifier) @name.definition.variable) @definition.variable))

(import_statement) @import
(export_statement source: (_)) @import
(call_expression function: (identifier) @_require arguments: (arguments . (string))
  (#eq? @_require "require")) @import
(call_expression function: (import) arguments: (arguments . (string))) @import

(call_expression function: (identifier) @name.reference.call)
(call_expression function: (member_expression property: (property_identifier) @name.reference.call))
(new_expression constructor: (identifier) @name.reference.type)
(member_expression property: (property_identifier) @name.reference.attribute)
(identifier) @name.reference.name

(formal_parameters (_) @skip)  ; start byte of each parameter = its name

(ERROR) @error
(MISSING) @error
