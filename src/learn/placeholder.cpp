// placeholder so the learn library exists before its first source
namespace varlearn {}
